"""Before/after evaluation tables with LlamaIndex's metrics and the paper's."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.indices.vector_store.retrievers import VectorIndexRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.report import evaluate_ranked_ids
from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.llama_index.evaluation import (
    compare_retrievers,
    comparison_table,
    evaluate_retriever,
    exact_plan,
    ranked_node_ids,
)

from ..optional import need
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


# ------------------------------------------------------------ fast (one exact pass) path
class InstructHashEmbedding(HashEmbedding):
    """Hash embeddings with a small text-seeded jitter, so no two nodes tie on a score, and
    queries embedded with an instruction prefix unlike texts (as BGE or E5 do), so a fast
    path that embedded queries as texts would rank differently."""

    @classmethod
    def class_name(cls) -> str:
        return "InstructHashEmbedding"

    @staticmethod
    def _jitter(text: str, vec: list[float]) -> list[float]:
        seed = int.from_bytes(hashlib.md5(text.encode()).digest()[:4], "little")
        out = np.asarray(vec) + 0.05 * np.random.default_rng(seed).normal(size=len(vec))
        return (out / np.linalg.norm(out)).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._jitter(text, super()._get_text_embedding(text))

    def _get_query_embedding(self, query: str) -> list[float]:
        text = f"represent this question for search: {query}"
        return self._jitter(text, super()._get_query_embedding(text))


class CountingRetriever(BaseRetriever):
    """A retriever evaluation cannot see into: it wraps another and counts the calls."""

    def __init__(self, inner: BaseRetriever) -> None:
        self.inner = inner
        self.calls = 0
        super().__init__()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.calls += 1
        return self.inner.retrieve(query_bundle.query_str)


def _faiss_index(qa: dict[str, Any], model: BaseEmbedding, metric: str) -> VectorStoreIndex:
    faiss = need("faiss")
    mod = need("llama_index.vector_stores.faiss")
    flat = faiss.IndexFlatIP(qa["dim"]) if metric == "ip" else faiss.IndexFlatL2(qa["dim"])
    ctx = StorageContext.from_defaults(vector_store=mod.FaissVectorStore(faiss_index=flat))
    return VectorStoreIndex(qa["nodes"], storage_context=ctx, embed_model=model)


def _retriever(kind: str, qa: dict[str, Any], model: BaseEmbedding) -> BaseRetriever:
    if kind == "simple":
        return VectorStoreIndex(qa["nodes"], embed_model=model).as_retriever(similarity_top_k=10)
    if kind == "simple-top5":  # returns fewer nodes than k asks for
        return VectorStoreIndex(qa["nodes"], embed_model=model).as_retriever(similarity_top_k=5)
    if kind == "simple-subset":  # node_ids restricts the candidates
        index = VectorStoreIndex(qa["nodes"], embed_model=model)
        keep = [n.node_id for n in qa["nodes"][::2]]
        return VectorIndexRetriever(index, similarity_top_k=10, node_ids=keep)
    if kind in ("faiss-ip", "faiss-l2"):
        return _faiss_index(qa, model, kind[-2:]).as_retriever(similarity_top_k=10)
    variant = "M" if kind == "nudge-m" else "N"
    eng = NudgeFinetuneEngine(
        qa["train"], model, corpus=qa["nodes"], val_dataset=qa["val"], variant=variant
    )
    eng.finetune()
    return eng.as_retriever(10)


@pytest.mark.parametrize(
    "kind",
    ["simple", "simple-top5", "simple-subset", "faiss-ip", "faiss-l2", "nudge-n", "nudge-m"],
)
def test_fast_path_ranks_like_per_query_retrieval(qa: dict[str, Any], kind: str) -> None:
    model = InstructHashEmbedding(embed_batch_size=16)
    queries = [qa["test"].queries[q] for q in qa["test"].query_ids]
    assert model.get_query_embedding(queries[0]) != model.get_text_embedding(queries[0])
    retriever = _retriever(kind, qa, model)
    assert exact_plan(retriever) is not None
    fast = ranked_node_ids(retriever, queries, k=10)
    slow = ranked_node_ids(retriever, queries, k=10, fast=False)
    assert fast == slow
    assert {len(ids) for ids in fast} == {5 if kind == "simple-top5" else 10}
    assert evaluate_retriever(retriever, qa["test"]) == pytest.approx(
        evaluate_retriever(retriever, qa["test"], fast=False)
    )


def test_unsupported_retrievers_are_called_per_query(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    wrapped = CountingRetriever(index.as_retriever(similarity_top_k=10))
    mmr = index.as_retriever(similarity_top_k=10, vector_store_query_mode="mmr")
    assert exact_plan(wrapped) is None and exact_plan(mmr) is None
    result = evaluate_retriever(wrapped, qa["test"])
    assert wrapped.calls == len(qa["test"])
    assert result == pytest.approx(
        evaluate_retriever(index.as_retriever(similarity_top_k=10), qa["test"])
    )


def test_compared_retrievers_share_query_embeddings(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"])
    eng.finetune()
    base = VectorStoreIndex(qa["nodes"], embed_model=embed_model).as_retriever(similarity_top_k=10)
    before = embed_model.query_calls
    compare_retrievers({"base": base, "NUDGE-N": eng.as_retriever(10)}, qa["test"])
    distinct = {qa["test"].queries[q] for q in qa["test"].query_ids}
    assert embed_model.query_calls - before == len(distinct)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"k": 0}, "k must"), ({"max_concurrency": 0}, "max_")]
)
def test_bad_evaluation_options(
    qa: dict[str, Any], embed_model: HashEmbedding, kwargs: dict[str, int], match: str
) -> None:
    retriever = VectorStoreIndex(qa["nodes"], embed_model=embed_model).as_retriever()
    with pytest.raises(NudgeError, match=match):
        evaluate_retriever(retriever, qa["test"], **kwargs)
