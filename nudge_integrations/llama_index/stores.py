"""LlamaIndex vector stores -> the shared in-place writers (``nudge_integrations.stores``).

Supported: ``SimpleVectorStore``, ``FaissVectorStore`` (flat indexes), ``ChromaVectorStore``,
``MilvusVectorStore``, ``QdrantVectorStore``, ``LanceDBVectorStore`` and ``PGVectorStore``
(PostgreSQL + pgvector). Text and metadata stay; only vectors change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.sources import ArraySource
from nudge_integrations.stores import (
    ChromaWriter,
    FaissFlatWriter,
    MilvusWriter,
    StoreWriter,
)
from nudge_integrations.stores import require_inner_product as _require_ip
from nudge_integrations.stores.base import Limits

__all__ = [
    "SimpleWriter",
    "require_inner_product",
    "store_similarity",
    "writer_for",
]

_BATCH = 0  # 0: the shared default batch size (tests lower it to exercise rollback)


class SimpleWriter:
    """LlamaIndex's in-memory ``SimpleVectorStore`` (always cosine)."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

    similarity: str | None = "cosine"

    def __init__(self, store: Any) -> None:
        self.data = store.data

    def all_ids(self) -> list[str]:
        return list(self.data.embedding_dict)

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        table = self.data.embedding_dict
        return {i: np.asarray(table[i], dtype=np.float32) for i in ids if i in table}

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        for i, vec in vectors.items():
            self.data.embedding_dict[i] = np.asarray(vec, dtype=np.float32).tolist()

    #: The store ranks by exact cosine over every node.
    exact = True

    def count(self) -> int:
        return len(self.data.embedding_dict)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best node ids per query by cosine, as the store itself ranks."""
        table = self.data.embedding_dict
        if not table:
            return [[] for _ in range(len(queries))]
        ids = list(table)
        return ArraySource([table[i] for i in ids], ids).nearest(queries, limit)


def writer_for(store: Any, position_of: Mapping[str, int] | None = None) -> StoreWriter:
    """The writer for a LlamaIndex vector store, or a clear error for unsupported ones."""
    name = type(store).__name__
    if name == "SimpleVectorStore":
        return SimpleWriter(store)
    if name == "FaissVectorStore":
        if position_of is None:
            raise NudgeError("a FAISS store is updated through its index: pass the index")
        return FaissFlatWriter(store.client, position_of)
    if name == "ChromaVectorStore":
        return ChromaWriter(store._collection)
    if name == "MilvusVectorStore":
        return MilvusWriter(
            store.client,
            store.collection_name,
            id_field="id",
            vector_field=store.embedding_field,
            metric=store.similarity_metric,
        )
    if name in ("QdrantVectorStore", "LanceDBVectorStore"):
        from nudge_integrations.llama_index import stores_more

        if name == "QdrantVectorStore":
            return stores_more.qdrant_writer(store)
        return stores_more.lancedb_writer(store)
    if name == "PGVectorStore":
        from nudge_integrations.stores.pgvector import PgVectorWriter

        store._initialize()  # its engine (and table) are made on first use
        table = store._table_class.__table__
        return PgVectorWriter(
            store._engine,
            table.name,
            schema=table.schema,
            id_column="node_id",
            vector_column="embedding",
            metadata_column="metadata_",
            # it always orders by cosine distance (<=>), whatever index it was given
            similarity="cosine" if store._customize_query_fn is None else None,
        )
    raise NudgeError(
        f"updating {name} in place is not supported yet (supported: SimpleVectorStore, "
        "FaissVectorStore, ChromaVectorStore, MilvusVectorStore, QdrantVectorStore, "
        "LanceDBVectorStore, PGVectorStore): build a new index with "
        "engine.as_index(storage_context=...) instead"
    )


def store_similarity(store: Any, position_of: Mapping[str, int] | None = None) -> str | None:
    """``"dot"``, ``"cosine"``, ``"l2"``, or None when it cannot be told."""
    if store is None:
        return "cosine"  # LlamaIndex's default SimpleVectorStore
    try:
        return writer_for(store, position_of or {}).similarity
    except NudgeError:
        return None


def require_inner_product(
    store: Any, position_of: Mapping[str, int] | None = None, advice: str | None = None
) -> None:
    """Refuse NUDGE-M vectors for a store (None: the default one) not ranking by inner
    product; ``advice`` as in :func:`nudge_integrations.stores.require_inner_product`."""
    name = "the default SimpleVectorStore" if store is None else type(store).__name__
    _require_ip(store_similarity(store, position_of), name, advice)
