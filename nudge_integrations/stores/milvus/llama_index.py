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
    fields: list[str] = []

    def read_nodes(ids: list[str]) -> list[Any]:
        # as store.get_nodes builds them, less the vectors it also fetches (a text check
        # needs none): every field but the vectors, dynamic ones included
        if not fields:
            fields.extend(_fields_but_vectors(store.client, store.collection_name))
        got = store.client.query(store.collection_name, ids=ids, output_fields=fields)
        return [_node(store, item) for item in got]

    return bound(writer, store, index, read_nodes=read_nodes)


def _fields_but_vectors(client: Any, collection: str) -> list[str]:
    """The collection's fields that are not vectors, and ``$meta`` where it keeps dynamic
    fields (a query returns them by name then, as ``*`` would)."""
    desc = client.describe_collection(collection)
    out = [
        f["name"]
        for f in desc["fields"]
        if "VECTOR" not in getattr(f["type"], "name", str(f["type"])).upper()
    ]
    return out + (["$meta"] if desc.get("enable_dynamic_field") else [])


def _node(store: Any, item: dict[str, Any]) -> Any:
    """A node from a query's row, built as ``MilvusVectorStore.get_nodes`` builds it."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    text = item.get(store.text_key)
    if "_node_content" in item:
        return metadata_dict_to_node(item, text=text)
    if text:
        return TextNode(text=text, metadata={key: item.get(key) for key in store.output_fields})
    raise ValueError("Node content not found in metadata dict and no text content found.")
