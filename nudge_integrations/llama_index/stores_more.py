"""LlamaIndex's ``QdrantVectorStore`` and ``LanceDBVectorStore`` -> the shared writers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.lancedb import LanceDBWriter, chunks, id_filter
from nudge_integrations.stores.qdrant import QdrantDenseWriter


def qdrant_writer(store: Any) -> QdrantDenseWriter:
    """``llama_index.vector_stores.qdrant.QdrantVectorStore`` (local mode or server): the
    dense vector it queries (unnamed, or ``dense_vector_name`` when hybrid)."""
    client = getattr(store, "_client", None)
    if client is None:
        raise NudgeError(
            "this QdrantVectorStore has only an async client: pass client=QdrantClient(...) "
            "as well to fit, swap and revert"
        )
    return QdrantDenseWriter(client, store.collection_name, preferred=store.dense_vector_name or "")


def lancedb_writer(store: Any) -> LanceDBWriter:
    """``llama_index.vector_stores.lancedb.LanceDBVectorStore``: node ids in ``id``, vectors
    in ``vector_column_name``; written through the store's own table handle."""
    table = getattr(store, "_table", None)
    if table is None:
        raise NudgeError(
            f"the LanceDB table {store._table_name!r} does not exist yet: add the nodes first"
        )
    return LanceDBWriter(table, id_column="id", vector_column=store.vector_column_name or "vector")


def get_nodes(store: Any, ids: Sequence[str]) -> list[Any]:
    """``store.get_nodes(node_ids=ids)``; for LanceDB through a filter of our own, since
    its store quotes the ids as column names (llama-index-vector-stores-lancedb 0.6)."""
    if type(store).__name__ != "LanceDBVectorStore":
        return list(store.get_nodes(node_ids=list(ids)))
    return [n for chunk in chunks(list(ids)) for n in store.get_nodes(where=id_filter("id", chunk))]
