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
from nudge_integrations.stores.llama_index_bound import bound, node_from_row
from nudge_integrations.stores.pgvector.writer import PgVectorWriter

#: The columns of a node besides its id and vector.
_COLUMNS = ["text", "metadata_"]


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
        # as store.get_nodes builds them, less the vectors it also decodes (a text check
        # needs none; decoding them made reading 20k nodes 12x slower)
        return [node_from_row(i, text, meta) for i, (text, meta), _ in writer.rows(_COLUMNS, ids)]

    return bound(writer, store, index, read_nodes=read_nodes)
