"""Recall of a store's own (possibly approximate) search against exact search.

Framework-free. Approximate indexes (HNSW in Chroma, Qdrant, Milvus) rewrite graph
entries on every vector update, so a swap and a revert can change what the store's
search returns even when the vectors are back bit for bit. :func:`recall_at_k` and
:func:`exact_ids` let the adapters' ``index_recall`` measure it; :func:`rebuild_index`
rebuilds a Milvus vector index in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.sources import SCAN_BATCH, exact_outside
from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.milvus.writer import MilvusWriter


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise NudgeError(f"k must be a positive integer, got {k!r}")
    return int(k)


def recall_at_k(found: Sequence[Sequence[str]], exact: Sequence[Sequence[str]], k: int) -> float:
    """Mean over queries of ``|found[:k] & exact[:k]| / |exact[:k]|``."""
    k = _check_k(k)
    if len(found) != len(exact):
        raise NudgeError(
            f"found has {len(found)} result lists but exact has {len(exact)}: one per query"
        )
    if not exact:
        raise NudgeError("no queries: recall needs at least one")
    total = 0.0
    for got, want in zip(found, exact, strict=True):
        truth = {str(i) for i in list(want)[:k]}
        if not truth:
            raise NudgeError("an exact result list is empty: the store holds no vectors")
        total += len(truth & {str(i) for i in list(got)[:k]}) / len(truth)
    return total / len(exact)


def exact_ids(
    writer: StoreWriter, query_vectors: Any, k: int, *, batch: int = SCAN_BATCH
) -> list[list[str]]:
    """Exact top-``k`` ids per query (best first) over every vector ``writer`` holds,
    ranked by ``writer.similarity``. The vectors are streamed ``batch`` at a time, never
    more than the store's read limit (the writer's ``scan``, else its ids read back in
    batches), so memory is one batch of vectors and scores whatever the store holds."""
    k = _check_k(k)
    similarity = writer.similarity
    if similarity not in ("dot", "cosine", "l2"):
        raise NudgeError(
            f"the store ranks by {similarity or 'an unknown metric'}: exact search needs "
            "'dot', 'cosine' or 'l2'"
        )
    q = np.asarray(query_vectors, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2:
        raise NudgeError(f"query vectors must be one vector or a matrix, got shape {q.shape}")
    size = min(batch, writer.limits.read)
    found, scanned = exact_outside(writer, q, k, set(), batch=size, similarity=similarity)
    if not scanned:
        raise NudgeError("the store holds no vectors")
    return found


def rebuild_index(writer: StoreWriter) -> None:
    """Drop and recreate a Milvus collection's vector index with the same parameters, and
    reload it. Only :class:`~nudge_integrations.stores.milvus.MilvusWriter` is supported."""
    if not isinstance(writer, MilvusWriter):
        raise NudgeError(
            f"rebuild_index supports Milvus only, not {type(writer).__name__}. Chroma has "
            "no in-place HNSW rebuild: copy the records (ids, vectors, documents, "
            "metadata) into a new collection and point the store at it; FAISS flat "
            "indexes are exact and need none"
        )
    client, name, field = writer.client, writer.collection, writer.vector_field
    indexes = list(client.list_indexes(name, field_name=field))
    if not indexes:
        raise NudgeError(f"the Milvus collection {name!r} has no index on {field!r}")
    described = [(i, dict(client.describe_index(name, i))) for i in indexes]
    client.release_collection(collection_name=name)
    params = client.prepare_index_params()
    for index_name, info in described:
        client.drop_index(collection_name=name, index_name=index_name)
        extra = {
            k: v
            for k, v in info.items()
            if k
            not in {
                "field_name",
                "index_name",
                "index_type",
                "metric_type",
                "total_rows",
                "indexed_rows",
                "pending_index_rows",
                "state",
            }
        }
        params.add_index(
            field_name=info.get("field_name", field),
            index_name=index_name,
            index_type=info.get("index_type", ""),
            metric_type=info.get("metric_type", ""),
            params=extra.get("params", extra),
        )
    client.create_index(collection_name=name, index_params=params)
    client.load_collection(collection_name=name)
