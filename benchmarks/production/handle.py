"""What a case holds of an open store: the framework object, how to save and close it,
the ledger argument, and the package's writer (whose client handles the store's own
bulk update uses)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Chunk of records added per call while building a store.
ADD_CHUNK = 5_000


def nothing() -> None:
    """Saving or closing a store that needs neither."""


@dataclass
class Handle:
    """An open store of one framework."""

    #: LangChain vector store, or LlamaIndex ``VectorStoreIndex``.
    obj: Any
    framework: str
    kind: str
    #: The ledger path to pass (stores whose ledger cannot be found from the store alone).
    ledger: Path | None = None
    save: Callable[[], None] = nothing
    close: Callable[[], None] = nothing
    #: Documented rounding of a vector read back (0: kept bit for bit).
    tolerance: float = 0.0
    #: Settings worth recording (metric, index type, server).
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def lc(self) -> bool:
        return self.framework == "langchain"

    def writer(self) -> Any:
        """The package's writer for this store, bound as the adapter binds it."""
        from nudge_integrations.stores import registry

        if self.lc:
            return registry.bind(self.obj, "langchain").writer
        from nudge_integrations.llama_index.ledger import writer_of

        return writer_of(self.obj)

    def api(self) -> Any:
        """The framework's ledger verbs (status, revert, finish, rollback)."""
        if self.lc:
            from nudge_integrations import langchain as api
        else:
            from nudge_integrations import llama_index as api  # type: ignore[no-redef]
        return api


def milvus_closer(client: Any, path: Path) -> Callable[[], None]:
    """Close a Milvus Lite client and stop the in-process server holding the file's lock
    (milvus-lite 3.x serves a ``.db`` file from a thread of the process that opened it)."""

    def close() -> None:
        from milvus_lite.server_manager import server_manager_instance

        client.close()
        server_manager_instance.release_server(str(path))

    return close


def chunks(n: int, size: int = ADD_CHUNK) -> list[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size``."""
    return [slice(s, min(n, s + size)) for s in range(0, n, size)]
