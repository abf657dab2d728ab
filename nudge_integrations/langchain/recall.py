"""Recall of a LangChain vector store's own search against exact search over its vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores import registry
from nudge_integrations.stores.recall import exact_ids, recall_at_k

#: Metadata keys some stores put a hit's id under (Milvus ``pk``, Qdrant ``_id``).
ID_KEYS = ("pk", "_id", "id")


def hit_id(doc: Document) -> str:
    """The id of a search hit: ``doc.id``, else a metadata id key."""
    if doc.id:
        return str(doc.id)
    for key in ID_KEYS:
        if doc.metadata.get(key) is not None:
            return str(doc.metadata[key])
    raise NudgeError("a search hit carries no id (doc.id or metadata 'pk'/'_id'/'id')")


def query_vectors(
    store: Any, queries: Sequence[str] | Sequence[Sequence[float]] | Any, embeddings: Any
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Queries as a float32 matrix: strings embedded, vectors taken as they are."""
    items = list(queries)
    if not items:
        raise NudgeError("no queries: recall needs at least one")
    if all(isinstance(q, str) for q in items):
        emb = embeddings if embeddings is not None else getattr(store, "embeddings", None)
        if not isinstance(emb, Embeddings):
            raise NudgeError(
                "text queries need an Embeddings: pass embeddings= or give the store one"
            )
        return np.asarray([emb.embed_query(q) for q in items], dtype=np.float32)
    if any(isinstance(q, str) for q in items):
        raise NudgeError("queries must be all strings or all vectors")
    return np.asarray(items, dtype=np.float32)


def index_recall(
    store: Any,
    queries: Sequence[str] | Sequence[Sequence[float]] | Any,
    k: int = 10,
    embeddings: Embeddings | None = None,
) -> float:
    """Recall@``k`` of ``store.similarity_search_by_vector`` against exact search over
    the vectors the store holds (1.0: the store's search is exact on these queries).

    ``queries`` are strings (embedded with ``embeddings`` or ``store.embeddings``) or
    vectors. Measure before a swap, after it and after a revert.
    """
    q = query_vectors(store, queries, embeddings)
    exact = exact_ids(registry.bind(store, "langchain").writer, q, k)
    found = [[hit_id(d) for d in store.similarity_search_by_vector(vec.tolist(), k=k)] for vec in q]
    return recall_at_k(found, exact, k)
