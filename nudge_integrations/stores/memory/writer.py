"""In-process stores: LlamaIndex's ``SimpleVectorStore`` and LangChain's
``InMemoryVectorStore``, both a dict of vectors (ranked by exact cosine)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.sources import ArraySource
from nudge_integrations.stores.base import MARKER, BatchedWriter, Limits, MarkedWriter
from nudge_integrations.stores.markers import with_marker

#: A dict in this process: a "request" is a Python loop over it, with nothing to exceed,
#: so no limit (the ledger still writes a swap in its own batches).
LIMITS = Limits(read=1 << 30, write=1 << 30)


class SimpleWriter(BatchedWriter):
    """LlamaIndex's in-memory ``SimpleVectorStore`` (``store.data.embedding_dict``)."""

    similarity: str | None = "cosine"
    limits = LIMITS
    #: The store ranks by exact cosine over every node.
    exact = True

    def __init__(self, store: Any) -> None:
        self.data = store.data

    def all_ids(self) -> list[str]:
        return list(self.data.embedding_dict)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        table = self.data.embedding_dict
        return {i: np.asarray(table[i], dtype=np.float32) for i in ids if i in table}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        for i, vec in vectors.items():
            self.data.embedding_dict[i] = np.asarray(vec, dtype=np.float32).tolist()

    def count(self) -> int:
        return len(self.data.embedding_dict)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best node ids per query by cosine, as the store itself ranks."""
        return _nearest(self.data.embedding_dict, queries, limit)


class InMemoryWriter(MarkedWriter):
    """LangChain's ``InMemoryVectorStore`` (``store.store``: id -> record dict), with the
    marker in each record's metadata."""

    similarity: str | None = "cosine"
    limits = LIMITS
    #: The store ranks by exact cosine over every record.
    exact = True

    def __init__(self, store: Any) -> None:
        self.table: dict[str, dict[str, Any]] = store.store

    def all_ids(self) -> list[str]:
        return list(self.table)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        return {i: np.asarray(self.table[i]["vector"], np.float32) for i in ids if i in self.table}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        for i, vec in vectors.items():
            self.table[i]["vector"] = np.asarray(vec, dtype=np.float32).tolist()

    def count(self) -> int:
        return len(self.table)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by cosine, as the store itself ranks."""
        return _nearest({i: r["vector"] for i, r in self.table.items()}, queries, limit)

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        return {
            i: str(self.table[i]["metadata"][MARKER])
            for i in ids
            if i in self.table and (self.table[i].get("metadata") or {}).get(MARKER)
        }

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        for i in ids:  # a new dict: the store may share the user's Document.metadata
            self.table[i]["metadata"] = with_marker(self.table[i].get("metadata"), value)


def _nearest(table: Mapping[str, Any], queries: NDArray[np.float32], limit: int) -> list[list[str]]:
    """Best ids per query by exact cosine over ``table`` (id -> vector)."""
    if not table:
        return [[] for _ in range(len(queries))]
    ids = list(table)
    return ArraySource([table[i] for i in ids], ids).nearest(queries, limit)
