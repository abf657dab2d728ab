"""LlamaIndex's ``PGVectorStore``: nodes in its table (``node_id``, ``embedding``,
``metadata_``), always ranked by cosine distance (``<=>``) unless it was given its own
query function."""

from __future__ import annotations

from typing import Any

from nudge_integrations.compat.llama_index import (
    pgvector_custom_query,
    pgvector_engine,
    pgvector_table,
)
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.llama_index_bound import bound
from nudge_integrations.stores.pgvector.writer import PgVectorWriter


def bind(store: Any, index: Any = None) -> Bound:
    """A ``PGVectorStore`` bound for the lifecycle (its engine and table made if new)."""
    engine = pgvector_engine(store)
    table = pgvector_table(store)
    writer = PgVectorWriter(
        engine,
        table.name,
        schema=table.schema,
        id_column="node_id",
        vector_column="embedding",
        metadata_column="metadata_",
        # it orders by cosine distance (<=>) whatever index it was given
        similarity=None if pgvector_custom_query(store) else "cosine",
    )

    def read_nodes(ids: list[str]) -> list[Any]:
        return list(store.get_nodes(node_ids=ids))

    return bound(writer, store, index, read_nodes=read_nodes)
