"""Before/after evaluation tables with LlamaIndex's metrics and the paper's."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import VectorStoreIndex

from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.llama_index.evaluation import compare_retrievers, comparison_table
from nudge_integrations.report import evaluate_ranked_ids

from .conftest import HashEmbedding


def test_before_after_table(qa: dict[str, Any], embed_model: HashEmbedding) -> None:
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"], val_dataset=qa["val"])
    eng.finetune()
    base = VectorStoreIndex(qa["nodes"], embed_model=embed_model).as_retriever(similarity_top_k=10)
    results = compare_retrievers({"base": base, "NUDGE-N": eng.as_retriever(10)}, qa["test"])
    assert set(results) == {"base", "NUDGE-N"}
    row = results["base"]
    assert set(row) == {"hit_rate@10", "mrr@10", "li_ndcg@10", "recall@10", "ndcg@10"}
    # single relevant doc per query: LlamaIndex's hit rate equals recall@10, NDCGs agree
    assert row["hit_rate@10"] == pytest.approx(row["recall@10"])
    assert row["li_ndcg@10"] == pytest.approx(row["ndcg@10"])
    table = comparison_table(results)
    assert "| NUDGE-N" in table and "recall@10" in table


def test_ranked_ids_metrics_by_hand() -> None:
    out = evaluate_ranked_ids(
        [["a", "b"], ["c", "d"]], [{"b": 1.0}, {"x": 1.0}], columns=[("hit", 1), ("mrr", 2)]
    )
    assert out == {"hit@1": 0.0, "mrr@2": 0.25}
