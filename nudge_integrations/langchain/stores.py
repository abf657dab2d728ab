"""LangChain vector stores: read their documents and vectors, and write vectors in place.

Each supported store maps to a :class:`StoreAdapter`: ``load()`` returns the documents
(with ids, text and metadata) and the vectors the store holds; ``writer()`` gives the
shared in-place writer (``nudge_integrations.stores``). Supported: ``InMemoryVectorStore``;
further stores register with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore
from numpy.typing import NDArray

from nudge_integrations.errors import NudgeError
from nudge_integrations.stores import StoreWriter


@dataclass
class Loaded:
    """What a store holds: documents, and vectors by id (possibly for only some of them)."""

    documents: list[Document]
    vectors: dict[str, NDArray[np.float32]]


class StoreAdapter:
    """Read documents and vectors from one LangChain store; write vectors back."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def load(self) -> Loaded:
        raise NotImplementedError

    def writer(self) -> StoreWriter:
        raise NotImplementedError


class InMemoryWriter:
    """``InMemoryVectorStore``: vectors replaced in its ``store`` dict (cosine ranking)."""

    similarity: str | None = "cosine"

    def __init__(self, store: InMemoryVectorStore) -> None:
        self.table = store.store

    def all_ids(self) -> list[str]:
        return list(self.table)

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return {i: np.asarray(self.table[i]["vector"], np.float32) for i in ids if i in self.table}

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        for i, vec in vectors.items():
            self.table[i]["vector"] = np.asarray(vec, dtype=np.float32).tolist()


class InMemoryAdapter(StoreAdapter):
    store: InMemoryVectorStore

    def load(self) -> Loaded:
        docs, vectors = [], {}
        for doc_id, rec in self.store.store.items():
            docs.append(Document(id=doc_id, page_content=rec["text"], metadata=rec["metadata"]))
            vectors[doc_id] = np.asarray(rec["vector"], dtype=np.float32)
        return Loaded(docs, vectors)

    def writer(self) -> StoreWriter:
        return InMemoryWriter(self.store)


_ADAPTERS: dict[str, Callable[[Any], StoreAdapter]] = {
    "InMemoryVectorStore": InMemoryAdapter,
}


def register(class_name: str, factory: Callable[[Any], StoreAdapter]) -> None:
    """Teach the package a vector store class (by class name)."""
    _ADAPTERS[class_name] = factory


def adapter_for(store: VectorStore | Any) -> StoreAdapter:
    """The adapter of a store, or a clear error naming the supported ones."""
    for cls in type(store).__mro__:
        factory = _ADAPTERS.get(cls.__name__)
        if factory is not None:
            return factory(store)
    raise NudgeError(
        f"{type(store).__name__} is not supported for reading and updating vectors in place "
        f"(supported: {', '.join(sorted(_ADAPTERS))}); fit from Documents instead and serve "
        "NudgeRetriever, or rebuild the store from the nudged vectors"
    )
