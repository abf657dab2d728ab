"""Before/after retrieval evaluation for LlamaIndex retrievers on a QA dataset.

LlamaIndex's own retrieval metrics (hit rate, MRR, NDCG from
``llama_index.core.evaluation``) sit beside the paper's recall@k and graded NDCG@k,
computed on the same retrieved lists.

Where a retriever's ranking can be reproduced exactly (a ``VectorStoreIndex`` retriever
over a ``SimpleVectorStore`` or a flat FAISS index, or a :class:`NudgeRetriever`), the
queries are embedded once, concurrently, through the embed model's query path, and
ranked against the retriever's own vectors in one exact pass with the store's
similarity: the same lists ``retrieve()`` gives (ties aside), in seconds rather than
minutes. Any other retriever is called once per query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.evaluation.retrieval.metrics import MRR, NDCG, HitRate
from llama_index.core.indices.vector_store.retrievers import VectorIndexRetriever
from llama_index.core.vector_stores.types import VectorStoreQueryMode
from numpy.typing import NDArray

from nudge_integrations.compat import llama_index as compat
from nudge_integrations.core.errors import NudgeError, ShapeError
from nudge_integrations.core.report import evaluate_ranked_ids, format_table
from nudge_integrations.core.search import exact_search
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index.embeddings import EmbeddingCache
from nudge_integrations.llama_index.ledger import store_nodes
from nudge_integrations.llama_index.retriever import NudgeRetriever


@dataclass(frozen=True)
class ExactPlan:
    """What one exact pass needs to rank like a retriever: its candidate vectors (rows),
    the node id each row is returned as, the store's similarity (``"dot"``, ``"cosine"``
    or ``"l2"``), how many nodes it returns, and the model that embeds its queries."""

    node_ids: list[str]
    vectors: NDArray[np.float32]
    similarity: str
    top_k: int
    embed_model: BaseEmbedding


def exact_plan(retriever: BaseRetriever) -> ExactPlan | None:
    """How to reproduce ``retriever``'s ranking in one exact pass, or None when it must be
    called per query (other retrievers and stores, filters, non-default query modes,
    approximate indexes, recursive retrieval through an ``object_map``)."""
    if getattr(retriever, "object_map", None):
        return None
    if type(retriever) is NudgeRetriever:
        nodes = retriever.nodes
        return ExactPlan(
            [n.node_id for n in nodes],
            retriever.vectors,
            retriever.similarity,
            min(retriever.similarity_top_k, len(nodes)),
            retriever.embed_model,
        )
    if type(retriever) is VectorIndexRetriever:
        return _vector_index_plan(retriever)
    return None


def _vector_index_plan(retriever: VectorIndexRetriever) -> ExactPlan | None:
    """The plan for a ``VectorStoreIndex`` retriever over a store queried exactly."""
    store: Any = compat.retriever_vector_store(retriever)
    if (
        compat.retriever_query_mode(retriever) != VectorStoreQueryMode.DEFAULT
        or compat.retriever_filters(retriever) is not None
        or compat.retriever_doc_ids(retriever) is not None
        or compat.retriever_store_kwargs(retriever)
        or not store.is_embedding_query  # in the default mode: whether queries are embedded
        or retriever.similarity_top_k < 1
    ):
        return None
    nodes_dict = compat.retriever_index(retriever).index_struct.nodes_dict
    name = type(store).__name__
    if name == "SimpleVectorStore":  # cosine over the stored ids, restricted to node_ids
        table = store.data.embedding_dict
        node_ids = compat.retriever_node_ids(retriever)
        allowed = None if node_ids is None else set(node_ids)
        store_ids = [i for i in table if allowed is None or i in allowed]
        vectors = _matrix([table[i] for i in store_ids])
        similarity = "cosine"
    elif name == "FaissVectorStore":  # rows by position; node_ids are ignored by the store
        found = _faiss_rows(store.client)
        if found is None:
            return None
        vectors, similarity = found
        store_ids = [str(i) for i in range(vectors.shape[0])]
    else:
        return None
    if not store_ids or vectors.ndim != 2 or any(i not in nodes_dict for i in store_ids):
        return None
    return ExactPlan(
        [str(nodes_dict[i]) for i in store_ids],
        vectors,
        similarity,
        min(retriever.similarity_top_k, len(store_ids)),
        compat.retriever_embed_model(retriever),
    )


def _matrix(rows: Sequence[Any]) -> NDArray[np.float32]:
    try:
        return np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError):  # ragged or missing rows: left to the per-query path
        return np.zeros((0,), dtype=np.float32)


def _faiss_rows(index: Any) -> tuple[NDArray[np.float32], str] | None:
    """A flat FAISS index's vectors and metric (``"dot"`` or ``"l2"``), else None."""
    import faiss

    flat = faiss.downcast_index(index)
    if not isinstance(flat, faiss.IndexFlat):
        return None  # IVF, HNSW, PQ...: approximate, so exact scores would differ
    metric = {faiss.METRIC_INNER_PRODUCT: "dot", faiss.METRIC_L2: "l2"}.get(flat.metric_type)
    if metric is None or flat.ntotal == 0:
        return None
    return np.asarray(flat.reconstruct_n(0, flat.ntotal), dtype=np.float32), metric


def _exact_ranking(plan: ExactPlan, queries: NDArray[np.float32], depth: int) -> list[list[str]]:
    """Node ids of the best ``depth`` rows per query, best first, as the store ranks them."""
    if queries.shape[1] != plan.vectors.shape[1]:
        raise ShapeError(
            f"query embeddings have dimension {queries.shape[1]} but the retriever's vectors "
            f"{plan.vectors.shape[1]}: use the embed model the corpus was embedded with"
        )
    q, corpus, similarity = queries, plan.vectors, plan.similarity
    if similarity == "l2":  # -||q - x||^2 ranks like 2 q.x - ||x||^2: a dot product
        q = np.hstack([2.0 * q, -np.ones((q.shape[0], 1), dtype=np.float32)])
        norms = np.einsum("ij,ij->i", corpus, corpus, dtype=np.float32)[:, None]
        corpus, similarity = np.hstack([corpus, norms]), "dot"
    _, rows = exact_search(q, corpus, depth, similarity=similarity, device="cpu")
    ids = plan.node_ids
    return [[ids[r] for r in row if r >= 0] for row in rows.tolist()]


class _QueryEmbeddings:
    """One query-embedding cache per embed model, shared across the retrievers compared."""

    def __init__(self, max_concurrency: int) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise NudgeError(f"max_concurrency must be at least 1, got {max_concurrency!r}")
        self.max_concurrency = max_concurrency
        self._caches: dict[int, EmbeddingCache] = {}

    def embed(self, model: BaseEmbedding, queries: Sequence[str]) -> NDArray[np.float32]:
        cache = self._caches.get(id(model))
        if cache is None or cache.embed_model is not model:
            cache = EmbeddingCache(model, max_concurrency=self.max_concurrency)
            self._caches[id(model)] = cache
        return cache.embed_queries(queries)


def _check_k(k: int) -> int:
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise NudgeError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _ranked(
    retriever: BaseRetriever, queries: Sequence[str], k: int, fast: bool, qe: _QueryEmbeddings
) -> list[list[str]]:
    plan = exact_plan(retriever) if fast and queries else None
    if plan is None:
        return [[n.node.node_id for n in retriever.retrieve(q)][:k] for q in queries]
    return _exact_ranking(plan, qe.embed(plan.embed_model, queries), min(k, plan.top_k))


def _parents(retriever: BaseRetriever, ids: Sequence[str]) -> dict[str, str]:
    """The document (``ref_doc_id``) each retrieved node was split from, where known."""
    nodes: Any = (
        retriever.nodes
        if isinstance(retriever, NudgeRetriever)
        else compat.retriever_nodes(retriever)
    )
    if nodes is None:
        index: Any = compat.retriever_index(retriever)
        if index is None:
            return {}
        nodes = [n for n in index.docstore.get_nodes(list(ids), raise_error=False) if n]
        missing = set(ids) - {n.node_id for n in nodes}
        store = index.vector_store
        if missing and getattr(store, "stores_text", False):
            with contextlib.suppress(NotImplementedError, ValueError, KeyError):
                nodes += store_nodes(store, sorted(missing))
    return {n.node_id: n.ref_doc_id for n in nodes if n.ref_doc_id and n.ref_doc_id != n.node_id}


def _as_documents(
    retriever: BaseRetriever, ranked: list[list[str]], ds: QADataset
) -> list[list[str]]:
    """Where the QA data judges documents rather than nodes (an index of chunks), each
    retrieved chunk counts as its document, at the rank of its document's first chunk."""
    judged = {d for docs in ds.relevant_docs.values() for d in docs}
    seen = {i for ids in ranked for i in ids}
    if judged <= seen or not seen:
        return ranked
    parents = _parents(retriever, sorted(seen))
    if not any(p in judged for p in parents.values()):
        return ranked
    out = []
    for ids in ranked:
        mapped = [parents[i] if i not in judged and parents.get(i) in judged else i for i in ids]
        out.append(list(dict.fromkeys(mapped)))
    return out


def ranked_node_ids(
    retriever: BaseRetriever,
    queries: Sequence[str],
    *,
    k: int = 10,
    fast: bool = True,
    max_concurrency: int = 8,
) -> list[list[str]]:
    """The ids of the first ``k`` nodes ``retriever`` returns for each query, best first.

    With ``fast`` (the default) a retriever that :func:`exact_plan` covers is ranked in one
    exact pass (queries embedded ``max_concurrency`` at a time); ``fast=False`` calls
    ``retriever.retrieve`` once per query, as does any other retriever.
    """
    return _ranked(retriever, list(queries), _check_k(k), fast, _QueryEmbeddings(max_concurrency))


def _evaluate(
    retriever: BaseRetriever, ds: QADataset, k: int, fast: bool, qe: _QueryEmbeddings
) -> dict[str, float]:
    k = _check_k(k)
    ranked = _ranked(retriever, [ds.queries[qid] for qid in ds.query_ids], k, fast, qe)
    ranked = _as_documents(retriever, ranked, ds)
    li = {"hit_rate": 0.0, "mrr": 0.0, "ndcg": 0.0}
    metrics = {"hit_rate": HitRate(), "mrr": MRR(), "ndcg": NDCG()}
    for qid, ids in zip(ds.query_ids, ranked, strict=True):
        for name, metric in metrics.items():
            if ids:
                li[name] += metric.compute(
                    expected_ids=ds.relevant_docs[qid], retrieved_ids=ids
                ).score
    n = max(len(ds), 1)
    ours = evaluate_ranked_ids(ranked, ds.judgements(), columns=[("recall", k), ("ndcg", k)])
    return {
        f"hit_rate@{k}": li["hit_rate"] / n,
        f"mrr@{k}": li["mrr"] / n,
        f"li_ndcg@{k}": li["ndcg"] / n,
        **ours,
    }


def evaluate_retriever(
    retriever: BaseRetriever,
    dataset: Any,
    *,
    k: int = 10,
    fast: bool = True,
    max_concurrency: int = 8,
) -> dict[str, float]:
    """Mean metrics of ``retriever`` (which should return at least ``k`` nodes) on the queries.

    ``fast=False`` forces one ``retrieve()`` call per query (see :func:`ranked_node_ids`).
    """
    ds = QADataset.from_any(dataset)
    return _evaluate(retriever, ds, k, fast, _QueryEmbeddings(max_concurrency))


def compare_retrievers(
    retrievers: Mapping[str, BaseRetriever],
    dataset: Any,
    *,
    k: int = 10,
    fast: bool = True,
    max_concurrency: int = 8,
) -> dict[str, dict[str, float]]:
    """``{label: metrics}`` for several retrievers on the same queries (e.g. before/after).

    Retrievers sharing an embed model share its query embeddings (each query embedded once).
    """
    ds = QADataset.from_any(dataset)
    qe = _QueryEmbeddings(max_concurrency)
    return {label: _evaluate(r, ds, k, fast, qe) for label, r in retrievers.items()}


def comparison_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """The comparison as a Markdown table. ``li_ndcg`` is LlamaIndex's NDCG (binary gains,
    ideal over all relevant docs); ``ndcg`` is the paper's (graded, ideal cut at k)."""
    return format_table(results)
