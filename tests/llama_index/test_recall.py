"""Recall of an index's own retriever against exact search: Chroma HNSW (cosine) before a
swap, after it and after a revert; an exact SimpleVectorStore gives 1.0."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from llama_index.core import StorageContext, VectorStoreIndex

from nudge_integrations.llama_index import NudgeFinetuneEngine, index_recall
from nudge_integrations.llama_index.ledger import writer_of
from nudge_integrations.stores.recall import exact_ids, recall_at_k

from ..optional import need
from .conftest import HashEmbedding

_names = itertools.count()


def test_exact_index_has_recall_one(qa: dict[str, Any], embed_model: HashEmbedding) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    test = qa["test"]
    questions = [test.queries[q] for q in test.query_ids]
    assert index_recall(index, questions, k=10) == 1.0


def test_chroma_recall_before_swap_after_and_after_revert(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    chromadb = need("chromadb")
    mod = need("llama_index.vector_stores.chroma")
    col = chromadb.EphemeralClient().create_collection(
        f"recall{next(_names)}", metadata={"hnsw:space": "cosine"}
    )
    ctx = StorageContext.from_defaults(vector_store=mod.ChromaVectorStore(chroma_collection=col))
    index = VectorStoreIndex(qa["nodes"], storage_context=ctx, embed_model=embed_model)
    test = qa["test"]
    questions = [test.queries[q] for q in test.query_ids]
    before = index_recall(index, questions, k=10)
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    eng.apply_to_index(index)
    swapped = index_recall(index, questions, k=10)
    eng.revert_index(index)
    reverted = index_recall(index, questions, k=10)
    for value in (before, swapped, reverted):
        assert 0.0 <= value <= 1.0
    # the result equals a hand computation on one query
    vec = np.asarray(embed_model.get_query_embedding(questions[0]), np.float32)
    hits = index.as_retriever(similarity_top_k=10).retrieve(questions[0])
    served = {n.node.node_id for n in hits}
    writer = writer_of(index)
    held = writer.read(writer.all_ids())
    ids = list(held)
    mat = np.stack([held[i] for i in ids])
    cos = mat @ vec / (np.linalg.norm(mat, axis=1) * np.linalg.norm(vec))
    truth = {ids[r] for r in np.argsort(-cos)[:10]}
    assert index_recall(index, [vec.tolist()], k=10) == len(served & truth) / 10
    exact = exact_ids(writer, vec, 10)
    assert set(exact[0]) == truth and recall_at_k(exact, exact, 10) == 1.0
