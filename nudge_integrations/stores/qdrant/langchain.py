"""LangChain's ``QdrantVectorStore`` (``langchain-qdrant``, local mode or a server): text
and metadata in the payload keys ``content_payload_key`` and ``metadata_payload_key``, the
dense vector named ``vector_name``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.markers import without_marker
from nudge_integrations.stores.qdrant.writer import qdrant_writer


def bind(store: Any) -> Bound:
    """A LangChain ``QdrantVectorStore`` bound for the lifecycle."""
    mode = str(getattr(store.retrieval_mode, "value", store.retrieval_mode)).upper()
    if mode == "SPARSE":
        raise NudgeError(
            "this QdrantVectorStore retrieves by sparse vectors only: NUDGE moves dense "
            "vectors (use retrieval_mode DENSE or HYBRID)"
        )
    client, collection = store.client, store.collection_name
    writer = qdrant_writer(client, collection, vector_name=store.vector_name or "")
    text_key, meta_key = store.content_payload_key, store.metadata_payload_key

    def read_texts(ids: list[str]) -> dict[str, str]:
        points = client.retrieve(collection, ids=writer.point_ids(ids), with_payload=[text_key])
        return {str(p.id): (p.payload or {}).get(text_key) or "" for p in points}

    def records() -> Iterator[list[Record]]:
        wanted = [writer.vector_name] if writer.vector_name else True
        offset = None
        while True:
            points, offset = client.scroll(
                collection,
                limit=writer.limits.read,
                offset=offset,
                with_payload=True,
                with_vectors=wanted,
            )
            page = []
            for point in points:
                payload = point.payload or {}
                vec = writer.vector_of(point)
                page.append(
                    Record(
                        str(point.id),
                        payload.get(text_key) or "",
                        without_marker(payload.get(meta_key)),
                        None if vec is None else np.asarray(vec, dtype=np.float32),
                    )
                )
            if page:
                yield page
            if offset is None:
                return

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
