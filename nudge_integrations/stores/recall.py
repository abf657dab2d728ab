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
from numpy.typing import NDArray

from nudge_integrations.errors import NudgeError
from nudge_integrations.search import exact_search
from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.native import MilvusWriter


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


def exact_ids(writer: StoreWriter, query_vectors: Any, k: int) -> list[list[str]]:
    """Exact top-``k`` ids per query (best first) over every vector ``writer`` holds,
    ranked by ``writer.similarity``."""
    k = _check_k(k)
    similarity = writer.similarity
    if similarity not in ("dot", "cosine", "l2"):
        raise NudgeError(
            f"the store ranks by {similarity or 'an unknown metric'}: exact search needs "
            "'dot', 'cosine' or 'l2'"
        )
    vectors = writer.read(writer.all_ids())
    if not vectors:
        raise NudgeError("the store holds no vectors")
    ids = list(vectors)
    corpus = np.stack([vectors[i] for i in ids]).astype(np.float32)
    q = np.asarray(query_vectors, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != corpus.shape[1]:
        raise NudgeError(
            f"query vectors have shape {q.shape} but the store holds {corpus.shape[1]}-d "
            "vectors: embed the queries with the store's model"
        )
    kk = min(k, len(ids))
    if similarity == "l2":
        rows = _l2_rows(q, corpus, kk)
    else:
        _, found = exact_search(q, corpus, kk, similarity=similarity, device="cpu")
        rows = found
    return [[ids[r] for r in row if r >= 0] for row in rows]


def _l2_rows(q: NDArray[np.float32], corpus: NDArray[np.float32], k: int) -> NDArray[np.int64]:
    """Rows of the ``k`` nearest corpus vectors by Euclidean distance, nearest first."""
    dist = (q * q).sum(1)[:, None] - 2.0 * q @ corpus.T + (corpus * corpus).sum(1)[None, :]
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64)


def rebuild_index(writer: StoreWriter) -> None:
    """Drop and recreate a Milvus collection's vector index with the same parameters, and
    reload it. Only :class:`~nudge_integrations.stores.native.MilvusWriter` is supported."""
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
