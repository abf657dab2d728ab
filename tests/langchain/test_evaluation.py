"""Before/after evaluation of LangChain retrievers, and LangSmith-shaped evaluators."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.langchain import NudgeFitter
from nudge_integrations.langchain.evaluation import (
    compare_retrievers,
    comparison_table,
    evaluate_retriever,
    langsmith_evaluators,
    langsmith_examples,
    make_evaluator,
    retriever_target,
)

from .conftest import HashEmbeddings


def test_before_after_table(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"])
    before = store.as_retriever(search_kwargs={"k": 10})
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    results = compare_retrievers({"before": before, "after": fitter.as_retriever(k=10)}, qa["test"])
    assert set(results["before"]) == {"recall@10", "ndcg@10", "mrr@10"}
    fitter.swap_in(store)
    swapped = evaluate_retriever(store.as_retriever(search_kwargs={"k": 10}), qa["test"])
    assert swapped == pytest.approx(results["after"])  # the store serves the nudged ranking
    assert "| after" in comparison_table(results)


def test_langsmith_shapes(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    fitter = NudgeFitter(embeddings).fit(qa["docs"], qa["pairs"]("train"))
    retriever = fitter.as_retriever(k=10)
    examples = langsmith_examples(qa["test"])
    target = retriever_target(retriever)
    evaluators = langsmith_evaluators(k=10)
    for ev in evaluators:  # LangSmith binds evaluator arguments by name
        assert list(inspect.signature(ev).parameters) == ["outputs", "reference_outputs"]
    totals = {ev.__name__: 0.0 for ev in evaluators}
    for ex in examples:
        out = target(ex["inputs"])
        for ev in evaluators:
            res = ev(out, ex["outputs"])
            totals[ev.__name__] += res["score"]
    direct = evaluate_retriever(retriever, qa["test"])
    n = len(examples)
    assert totals["recall_at_10"] / n == pytest.approx(direct["recall@10"])
    assert totals["ndcg_at_10"] / n == pytest.approx(direct["ndcg@10"])
    assert totals["mrr_at_10"] / n == pytest.approx(direct["mrr@10"])


def test_single_evaluator_by_hand() -> None:
    ev = make_evaluator("mrr", 3)
    assert ev({"ids": ["a", "b", "c"]}, {"relevant": ["c"]}) == {
        "key": "mrr@3",
        "score": pytest.approx(1 / 3),
    }
    assert ev({"ids": ["a"]}, {"relevant": {"z": 2}})["score"] == 0.0
