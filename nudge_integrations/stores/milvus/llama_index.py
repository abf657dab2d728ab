"""LlamaIndex's ``MilvusVectorStore``: node ids in ``id``, vectors in its
``embedding_field``, text kept in the collection."""

from __future__ import annotations

from typing import Any

from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.llama_index_bound import bound
from nudge_integrations.stores.milvus.writer import MilvusWriter


def bind(store: Any, index: Any = None) -> Bound:
    """A ``MilvusVectorStore`` (behind ``index`` when given) bound for the lifecycle."""
    writer = MilvusWriter(
        store.client,
        store.collection_name,
        id_field="id",
        vector_field=store.embedding_field,
        metric=store.similarity_metric,
    )

    def read_nodes(ids: list[str]) -> list[Any]:
        return list(store.get_nodes(node_ids=ids))

    return bound(writer, store, index, read_nodes=read_nodes)
