"""QA data keyed by document id over an index of chunks (``from_documents`` splits
documents into nodes with new ids): relevance goes to the documents' chunks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.llama_index import NudgeFinetuneEngine

from .conftest import HashEmbedding


@pytest.fixture
def chunked(qa: dict[str, Any], embed_model: HashEmbedding) -> VectorStoreIndex:
    docs = [Document(id_=i, text=t) for i, t in qa["all"].corpus.items()]
    return VectorStoreIndex.from_documents(
        docs,
        embed_model=embed_model,
        transformations=[SentenceSplitter(chunk_size=48, chunk_overlap=0)],
    )


def chunks_of(index: VectorStoreIndex) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in index.docstore.docs.values():
        out.setdefault(node.ref_doc_id, []).append(node.node_id)
    return out


def test_document_ids_reach_their_chunks(
    qa: dict[str, Any], embed_model: HashEmbedding, chunked: VectorStoreIndex
) -> None:
    groups = chunks_of(chunked)
    assert sum(len(v) for v in groups.values()) > len(groups)  # documents were split
    moved = {}
    for rule in ("all", "best"):
        eng = NudgeFinetuneEngine(
            qa["train"], embed_model, corpus=chunked, val_dataset=qa["val"], relevant_chunks=rule
        )
        eng.finetune()
        assert eng.gamma_ > 0
        moved[rule] = {str(i) for i in eng.result_.moved_ids}  # type: ignore[union-attr]
    judged = {d for docs in qa["train"].relevant_docs.values() for d in docs}
    allowed = {c for d in judged for c in groups[d]}
    assert moved["all"] <= allowed and moved["best"] <= allowed
    # one chunk per (question, document) pair under "best"; "all" pulls every chunk
    n_pairs = sum(len(v) for v in qa["train"].relevant_docs.values())
    assert len(moved["best"]) <= n_pairs
    assert len(moved["all"]) > len(moved["best"])


def test_best_chunk_is_the_one_the_question_scores_highest(
    qa: dict[str, Any], embed_model: HashEmbedding, chunked: VectorStoreIndex
) -> None:
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=chunked, val_dataset=qa["val"], relevant_chunks="best"
    )
    q = qa["train"].query_ids[0]
    qv = np.asarray(embed_model.get_query_embedding(qa["train"].queries[q]), np.float32)
    judged = eng._judgements(qa["train"].subset([q]), qv[None, :])[0]
    base = dict(zip(eng.node_ids, eng.base_embeddings_matrix(), strict=True))
    doc = qa["train"].relevant_docs[q][0]
    chunks = chunks_of(chunked)[doc]
    best = max(chunks, key=lambda c: float(qv @ base[c]))
    assert best in judged and not (set(chunks) - {best}) & set(judged)


def test_unknown_ids_and_rules_are_named(
    qa: dict[str, Any], embed_model: HashEmbedding, chunked: VectorStoreIndex
) -> None:
    with pytest.raises(NudgeError, match="relevant_chunks must be 'all' or 'best'"):
        NudgeFinetuneEngine(qa["train"], embed_model, corpus=chunked, relevant_chunks="first")
    data = qa["train"].to_dict()
    bad = {
        "queries": {"x": "a question"},
        "corpus": {**data["corpus"], "ghost": "text"},
        "relevant_docs": {"x": ["ghost"]},
    }
    with pytest.raises(UnknownIdError, match="no node comes from a document with that id"):
        NudgeFinetuneEngine(bad, embed_model, corpus=chunked)


def test_evaluation_counts_chunks_as_their_documents(
    qa: dict[str, Any], embed_model: HashEmbedding, chunked: VectorStoreIndex
) -> None:
    from nudge_integrations.llama_index.evaluation import evaluate_retriever

    retriever = chunked.as_retriever(similarity_top_k=10)
    fast = evaluate_retriever(retriever, qa["test"])
    slow = evaluate_retriever(retriever, qa["test"], fast=False)
    assert fast == slow and fast["ndcg@10"] > 0.2  # not 0: chunks count as documents
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=chunked, val_dataset=qa["val"])
    eng.finetune()
    after = evaluate_retriever(eng.as_retriever(similarity_top_k=10), qa["test"])
    assert after["ndcg@10"] > 0.2
