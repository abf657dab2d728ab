"""The recipe store for LlamaIndex: ``SqliteLlamaIndexStore``, a minimal
``BasePydanticVectorStore`` over a SQLite table that keeps the nodes' text, and ``bind``,
which the registry calls to hand it to the lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pydantic import PrivateAttr

from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.llama_index_bound import bound

from .sqlite import Row, SqliteTable
from .writer import SqliteWriter, check


class SqliteLlamaIndexStore(BasePydanticVectorStore):
    """Nodes (text, metadata, embedding) in a SQLite table, searched by inner product."""

    stores_text: bool = True
    path: str
    table_name: str = "records"
    _table: SqliteTable = PrivateAttr()

    def __init__(self, path: str | Path, table_name: str = "records", **kwargs: Any) -> None:
        super().__init__(path=str(path), table_name=table_name, **kwargs)  # type: ignore[call-arg]
        self._table = SqliteTable(path, table_name)

    @property
    def client(self) -> SqliteTable:
        return self._table

    @property
    def table(self) -> SqliteTable:
        return self._table

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        self._table.upsert(
            Row(
                n.node_id,
                n.get_content(metadata_mode=MetadataMode.NONE),
                node_to_metadata_dict(n, remove_text=True, flat_metadata=False),
                np.asarray(n.get_embedding(), dtype=np.float32),
            )
            for n in nodes
        )
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        rows = self._table.get(self._table.ids())
        self._table.delete([i for i, r in rows.items() if r.metadata.get("doc_id") == ref_doc_id])

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        if filters is not None:
            raise NotImplementedError("SqliteLlamaIndexStore does not filter by metadata")
        ids = self._table.ids() if node_ids is None else node_ids
        rows = self._table.get(ids)
        return [
            metadata_dict_to_node(rows[i].metadata, text=rows[i].text) for i in ids if i in rows
        ]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if query.query_embedding is None:
            raise ValueError("SqliteLlamaIndexStore searches by embedding only")
        hits = self._table.search(query.query_embedding, query.similarity_top_k)
        nodes = self.get_nodes([i for i, _ in hits])
        return VectorStoreQueryResult(
            nodes=nodes, similarities=[s for _, s in hits], ids=[i for i, _ in hits]
        )


def bind(store: SqliteLlamaIndexStore, index: Any = None) -> Bound:
    """A ``SqliteLlamaIndexStore`` (behind ``index`` when given) bound for the lifecycle."""
    writer = SqliteWriter(store.table)

    def read_nodes(ids: list[str]) -> list[Any]:
        return list(store.get_nodes(check("node read", ids, writer.limits.read)))

    return bound(writer, store, index, read_nodes=read_nodes)
