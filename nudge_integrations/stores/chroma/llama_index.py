"""LlamaIndex's ``ChromaVectorStore``: its Chroma collection, which keeps the nodes' text."""

from __future__ import annotations

from typing import Any

from nudge_integrations.compat.llama_index import chroma_collection
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.chroma.writer import ChromaWriter
from nudge_integrations.stores.llama_index_bound import bound


def bind(store: Any, index: Any = None) -> Bound:
    """A ``ChromaVectorStore`` (behind ``index`` when given) bound for the lifecycle."""

    def read_nodes(ids: list[str]) -> list[Any]:
        return list(store.get_nodes(node_ids=ids))

    return bound(ChromaWriter(chroma_collection(store)), store, index, read_nodes=read_nodes)
