"""Before/after retrieval evaluation for LlamaIndex retrievers on a QA dataset.

LlamaIndex's own retrieval metrics (hit rate, MRR, NDCG from
``llama_index.core.evaluation``) sit beside the paper's recall@k and graded NDCG@k,
computed on the same retrieved lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.evaluation.retrieval.metrics import MRR, NDCG, HitRate

from nudge_integrations.data.dataset import QADataset
from nudge_integrations.report import evaluate_ranked_ids, format_table


def evaluate_retriever(retriever: BaseRetriever, dataset: Any, *, k: int = 10) -> dict[str, float]:
    """Mean metrics of ``retriever`` (which should return at least ``k`` nodes) on the queries."""
    ds = QADataset.from_any(dataset)
    ranked: list[list[str]] = []
    li = {"hit_rate": 0.0, "mrr": 0.0, "ndcg": 0.0}
    metrics = {"hit_rate": HitRate(), "mrr": MRR(), "ndcg": NDCG()}
    for qid in ds.query_ids:
        ids = [n.node.node_id for n in retriever.retrieve(ds.queries[qid])][:k]
        ranked.append(ids)
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


def compare_retrievers(
    retrievers: Mapping[str, BaseRetriever], dataset: Any, *, k: int = 10
) -> dict[str, dict[str, float]]:
    """``{label: metrics}`` for several retrievers on the same queries (e.g. before/after)."""
    return {label: evaluate_retriever(r, dataset, k=k) for label, r in retrievers.items()}


def comparison_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """The comparison as a Markdown table. ``li_ndcg`` is LlamaIndex's NDCG (binary gains,
    ideal over all relevant docs); ``ndcg`` is the paper's (graded, ideal cut at k)."""
    return format_table(results)
