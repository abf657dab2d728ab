"""LlamaIndex's ``LanceDBVectorStore``: node ids in ``id``, vectors in
``vector_column_name``, written through the store's own table handle. Nodes are read by a
filter of our own, since the store quotes ids as column names
(llama-index-vector-stores-lancedb 0.6.0)."""

from __future__ import annotations

from typing import Any

from nudge_integrations.compat.llama_index import lancedb_table, lancedb_table_name
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.lancedb.writer import LanceDBWriter, id_filter
from nudge_integrations.stores.llama_index_bound import bound


def bind(store: Any, index: Any = None) -> Bound:
    """A ``LanceDBVectorStore`` bound for the lifecycle."""
    table = lancedb_table(store)
    if table is None:
        raise NudgeError(
            f"the LanceDB table {lancedb_table_name(store)!r} does not exist yet: add the "
            "nodes first"
        )
    writer = LanceDBWriter(
        table, id_column="id", vector_column=store.vector_column_name or "vector"
    )

    def read_nodes(ids: list[str]) -> list[Any]:
        return list(store.get_nodes(where=id_filter("id", ids)))

    return bound(writer, store, index, read_nodes=read_nodes)
