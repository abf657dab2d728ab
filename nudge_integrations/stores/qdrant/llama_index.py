"""LlamaIndex's ``QdrantVectorStore`` (local mode or a server): the dense vector it queries
(unnamed, or ``dense_vector_name`` when hybrid); node ids are UUIDs."""

from __future__ import annotations

from typing import Any

from nudge_integrations.compat.llama_index import qdrant_client
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.llama_index_bound import bound
from nudge_integrations.stores.qdrant.writer import qdrant_writer


def bind(store: Any, index: Any = None) -> Bound:
    """A ``QdrantVectorStore`` bound for the lifecycle (through its sync client)."""
    client = qdrant_client(store)
    if client is None:
        raise NudgeError(
            "this QdrantVectorStore has only an async client: pass client=QdrantClient(...) "
            "as well to fit, swap and revert"
        )
    writer = qdrant_writer(
        client,
        store.collection_name,
        vector_name=store.dense_vector_name or "",
        integer_ids=False,  # LlamaIndex writes node ids as strings, which Qdrant takes as UUIDs
    )

    def read_nodes(ids: list[str]) -> list[Any]:
        # as store.get_nodes reads them, less the vectors it also fetches (a text check
        # needs none): the points' payloads parsed by the store's own parser
        points = client.retrieve(store.collection_name, ids=ids, with_vectors=False)
        return list(store.parse_to_query_result(points).nodes)

    return bound(writer, store, index, read_nodes=read_nodes)
