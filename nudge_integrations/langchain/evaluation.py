"""Measure any LangChain retriever on a QA dataset: recall@k, NDCG@k, MRR, before/after.

Also evaluator functions in the shape LangSmith's ``evaluate`` accepts
(``(outputs, reference_outputs) -> {"key", "score"}``), with helpers that turn a QA
dataset into LangSmith examples and a retriever into an evaluation target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.retrievers import BaseRetriever

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.report import evaluate_ranked_ids, format_table
from nudge_integrations.data.pairs import qa_dataset
from nudge_integrations.langchain.ids import document_id

Columns = Sequence[tuple[str, int]]
DEFAULT_COLUMNS: Columns = (("recall", 10), ("ndcg", 10), ("mrr", 10))


def evaluate_retriever(
    retriever: BaseRetriever,
    dataset: Any,
    *,
    columns: Columns = DEFAULT_COLUMNS,
    id_key: str | None = None,
    max_concurrency: int = 8,
) -> dict[str, float]:
    """Mean metrics over the dataset's queries; the retriever must return enough documents.

    ``dataset``: the pairs :meth:`NudgeFitter.fit` takes (``{question: [ids]}``,
    ``[(question, [ids])]``, a ``QADataset``, a dataset JSON path)."""
    ds = qa_dataset(dataset, None, name="evaluation")
    questions = [ds.queries[q] for q in ds.query_ids]
    results = retriever.batch(questions, config={"max_concurrency": max_concurrency})
    ranked = [[document_id(d, n, id_key) for n, d in enumerate(docs)] for docs in results]
    return evaluate_ranked_ids(ranked, ds.judgements(), columns=columns)


def compare_retrievers(
    retrievers: Mapping[str, BaseRetriever],
    dataset: Any,
    *,
    columns: Columns = DEFAULT_COLUMNS,
    id_key: str | None = None,
) -> dict[str, dict[str, float]]:
    """``{label: metrics}`` for several retrievers on the same queries."""
    return {
        label: evaluate_retriever(r, dataset, columns=columns, id_key=id_key)
        for label, r in retrievers.items()
    }


def comparison_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table of :func:`compare_retrievers`' output."""
    return format_table(results)


# ------------------------------------------------------------------ LangSmith shapes
def langsmith_examples(dataset: Any) -> list[dict[str, Any]]:
    """Examples for ``Client.create_examples``: question in, graded relevant ids out."""
    ds = qa_dataset(dataset, None, name="evaluation")
    return [
        {"inputs": {"question": ds.queries[q]}, "outputs": {"relevant": ds.grades(q)}}
        for q in ds.query_ids
    ]


def retriever_target(
    retriever: BaseRetriever, *, id_key: str | None = None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A LangSmith target: ``{"question"} -> {"ids": ranked document ids}``."""

    def target(inputs: dict[str, Any]) -> dict[str, Any]:
        docs = retriever.invoke(inputs["question"])
        return {"ids": [document_id(d, n, id_key) for n, d in enumerate(docs)]}

    return target


def _ranked(outputs: Mapping[str, Any]) -> list[str]:
    if "ids" in outputs:
        return [str(i) for i in outputs["ids"]]
    if "documents" in outputs:
        return [document_id(d, n) for n, d in enumerate(outputs["documents"])]
    raise NudgeError("evaluator outputs need 'ids' (ranked ids) or 'documents'")


def _relevant(reference: Mapping[str, Any]) -> dict[str, float]:
    rel = reference.get("relevant")
    if isinstance(rel, Mapping):
        return {str(k): float(v) for k, v in rel.items()}
    if isinstance(rel, Sequence) and not isinstance(rel, str):
        return {str(k): 1.0 for k in rel}
    raise NudgeError("reference_outputs need 'relevant': a list of ids or {id: grade}")


def make_evaluator(
    metric: str, k: int
) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    """A LangSmith evaluator scoring one example's ``metric@k`` (recall, ndcg, mrr, hit)."""

    def evaluator(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
        scores = evaluate_ranked_ids(
            [_ranked(outputs)], [_relevant(reference_outputs)], columns=[(metric, k)]
        )
        key, value = next(iter(scores.items()))
        return {"key": key, "score": value}

    evaluator.__name__ = f"{metric}_at_{k}"
    return evaluator


def langsmith_evaluators(
    k: int = 10,
) -> list[Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]]:
    """recall@k, NDCG@k and MRR@k evaluators for ``langsmith.evaluate(..., evaluators=...)``."""
    return [make_evaluator(m, k) for m in ("recall", "ndcg", "mrr")]
