"""Every store the package can fit against and swap into, registered once.

Each store lives in one folder, ``nudge_integrations/stores/<name>/``: its writer (with
its limits), and small binding modules that recognise a framework's store object
(``llama_index.py``, ``langchain.py``) or open it from the command line (``cli.py``).
This table is what the LlamaIndex and LangChain adapters, the CLI's ``--store`` kinds and
the docs' support matrix read; a new store is a new folder and one :class:`StoreEntry`
(here, or :func:`register` from outside the package).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound

Framework = Literal["llama_index", "langchain"]


@dataclass(frozen=True)
class StoreEntry:
    """One store: its name (folder, CLI kind), the framework classes it recognises, and
    where its bindings live."""

    #: Short name: the folder, the CLI's ``--store`` kind, the docs' row.
    name: str
    #: What users call it.
    title: str
    #: Module holding the bindings (``<package>.llama_index``, ``.langchain``, ``.cli``).
    package: str
    #: LlamaIndex vector-store class names it recognises (empty: not for LlamaIndex).
    llama_index: tuple[str, ...] = ()
    #: LangChain vector-store class names it recognises (empty: not for LangChain).
    langchain: tuple[str, ...] = ()
    #: The CLI's ``--store`` spelling, e.g. ``chroma:PATH:COLLECTION`` (None: not opened
    #: from the command line, e.g. an in-memory store).
    cli: str | None = None
    #: The pip extra that installs its clients.
    extra: str = ""

    def binding(self, part: Literal["llama_index", "langchain", "cli"]) -> ModuleType:
        """The binding module ``part`` of this store (imported on first use)."""
        return importlib.import_module(f"{self.package}.{part}")


_P = "nudge_integrations.stores"

_ENTRIES: dict[str, StoreEntry] = {}


def register(entry: StoreEntry) -> StoreEntry:
    """Add (or replace) a store in the registry; returns it."""
    _ENTRIES[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a store from the registry (a test store, say)."""
    _ENTRIES.pop(name, None)


def entries() -> list[StoreEntry]:
    """Every registered store, in registration order."""
    return list(_ENTRIES.values())


def entry(name: str) -> StoreEntry:
    """The store registered as ``name`` (the CLI's kind), or an error listing them."""
    try:
        return _ENTRIES[name]
    except KeyError:
        raise NudgeError(f"no store named {name!r} (registered: {', '.join(_ENTRIES)})") from None


def entry_for(store: Any, framework: Framework) -> StoreEntry:
    """The entry recognising a framework's store object (by its class or a base class's
    name), or an error naming the supported classes."""
    for cls in type(store).__mro__:
        for found in _ENTRIES.values():
            if cls.__name__ in getattr(found, framework):
                return found
    names = sorted({n for e in _ENTRIES.values() for n in getattr(e, framework)})
    raise NudgeError(
        f"{type(store).__name__} is not supported for reading and updating vectors in place "
        f"(supported: {', '.join(names)}); see docs/contributing-a-store.md to add it"
    )


def cli_kinds() -> list[StoreEntry]:
    """The stores the command line can open, in registration order."""
    return [e for e in _ENTRIES.values() if e.cli]


for _entry in (
    StoreEntry(
        "memory",
        "In-memory (LlamaIndex SimpleVectorStore, LangChain InMemoryVectorStore)",
        f"{_P}.memory",
        llama_index=("SimpleVectorStore",),
        langchain=("InMemoryVectorStore",),
        extra="llama-index / langchain",
    ),
    StoreEntry(
        "faiss",
        "FAISS (flat indexes)",
        f"{_P}.faiss",
        llama_index=("FaissVectorStore",),
        langchain=("FAISS",),
        cli="faiss:INDEX_FILE:IDS_JSON",
        extra="faiss",
    ),
    StoreEntry(
        "chroma",
        "Chroma (embedded, persistent or server)",
        f"{_P}.chroma",
        llama_index=("ChromaVectorStore",),
        langchain=("Chroma",),
        cli="chroma:PATH:COLLECTION",
        extra="llama-index-stores / langchain-stores",
    ),
    StoreEntry(
        "milvus",
        "Milvus (Milvus Lite or server)",
        f"{_P}.milvus",
        llama_index=("MilvusVectorStore",),
        langchain=("Milvus",),
        cli="milvus:FILE:COLLECTION",
        extra="llama-index-stores / langchain-stores",
    ),
    StoreEntry(
        "qdrant",
        "Qdrant (local mode or server)",
        f"{_P}.qdrant",
        llama_index=("QdrantVectorStore",),
        langchain=("QdrantVectorStore",),
        cli="qdrant:PATH:COLLECTION",
        extra="qdrant",
    ),
    StoreEntry(
        "lancedb",
        "LanceDB (embedded)",
        f"{_P}.lancedb",
        llama_index=("LanceDBVectorStore",),
        langchain=("LanceDB",),
        cli="lancedb:PATH:TABLE",
        extra="lancedb",
    ),
    StoreEntry(
        "pgvector",
        "PostgreSQL + pgvector",
        f"{_P}.pgvector",
        llama_index=("PGVectorStore",),
        langchain=("PGVector",),
        cli="pgvector:URL:TABLE",
        extra="pgvector",
    ),
):
    register(_entry)


def bind(obj: Any, framework: Framework, **kwargs: Any) -> Bound:
    """A framework's store object bound for the lifecycle, by its registered store's
    ``<framework>.bind(obj, **kwargs)``."""
    found: Bound = entry_for(obj, framework).binding(framework).bind(obj, **kwargs)
    return found
