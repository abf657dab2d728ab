"""QA pairs keyed by your own ids while the store keys chunks by other ids (splitters,
LangChain's ``index()`` content hashes): ``id_key`` names the metadata field that holds
yours, and a relevant document pulls its chunks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, index
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.langchain import NudgeFitter, NudgeRetriever

from .conftest import HashEmbeddings


def halves(docs: list[Document]) -> list[Document]:
    """Each document cut in two chunks that carry its id in metadata["source"]."""
    out = []
    for d in docs:
        words = d.page_content.split()
        cut = max(1, len(words) // 2)
        for part, text in (("a", words[:cut]), ("b", words[cut:] or words[:1])):
            out.append(
                Document(
                    id=f"{d.id}/{part}", page_content=" ".join(text), metadata={"source": d.id}
                )
            )
    return out


def test_content_hash_ids_from_index_with_id_key(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = InMemoryVectorStore(embeddings)
    manager = InMemoryRecordManager("nudge")
    manager.create_schema()
    index(halves(qa["docs"]), manager, store, cleanup="full", source_id_key="source")
    stored_ids = set(store.store)
    assert not stored_ids & {d.id for d in qa["docs"]}  # the store knows none of our ids
    with pytest.raises(UnknownIdError):
        NudgeFitter(embeddings).fit(store, qa["pairs"]("train"))
    fitter = NudgeFitter(embeddings).fit(
        store, qa["pairs"]("train"), val=qa["pairs"]("val"), id_key="source"
    )
    judged = {d for _, docs in qa["pairs"]("train") for d in docs}
    chunks = {i for i, r in store.store.items() if r["metadata"]["source"] in judged}
    moved = {str(i) for i in fitter.result_.moved_ids}
    assert moved and moved <= chunks
    report = fitter.swap_in(store)
    assert set(report.written) == moved


def test_best_chunk_rule_pulls_one_chunk_per_pair(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    docs = halves(qa["docs"])
    train, val = qa["pairs"]("train"), qa["pairs"]("val")
    every = NudgeFitter(embeddings).fit(docs, train, val=val, id_key="source")
    best = NudgeFitter(embeddings, relevant_chunks="best").fit(
        docs, train, val=val, id_key="source"
    )
    n_pairs = sum(len(rel) for _, rel in train)
    assert len(best.result_.moved_ids) <= n_pairs
    assert len(every.result_.moved_ids) > len(best.result_.moved_ids)
    # chunk ids can still be named directly, next to document ids
    direct = NudgeFitter(embeddings).fit(docs, [(q, [f"{rel[0]}/a"]) for q, rel in train])
    assert {str(i) for i in direct.result_.moved_ids} <= {d.id for d in docs if d.id.endswith("/a")}


def test_retriever_fit_takes_id_key(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    docs = halves(qa["docs"])
    retriever = NudgeRetriever.fit(
        docs, embeddings, qa["pairs"]("train"), val=qa["pairs"]("val"), id_key="source", k=3
    )
    fitter = NudgeFitter(embeddings).fit(
        docs, qa["pairs"]("train"), val=qa["pairs"]("val"), id_key="source"
    )
    assert fitter.result_.moved_ids  # the document ids reached their chunks
    np.testing.assert_array_equal(retriever._matrix, fitter.nudged_matrix())
    assert len(retriever.invoke(qa["pairs"]("test")[0][0])) == 3


def test_one_pairs_type_for_fit_and_evaluation(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    from nudge_integrations.langchain.evaluation import evaluate_retriever

    fitter = NudgeFitter(embeddings).fit(qa["docs"], qa["pairs"]("train"), val=qa["pairs"]("val"))
    retriever = fitter.as_retriever(k=10)
    test = qa["pairs"]("test")
    as_list = evaluate_retriever(retriever, test)
    as_dict = evaluate_retriever(retriever, {q: rel for q, rel in test})
    as_dataset = evaluate_retriever(retriever, qa["test"])
    assert as_list == as_dataset
    assert as_dict["ndcg@10"] == pytest.approx(as_list["ndcg@10"], abs=0.05)  # repeats merge
    with pytest.raises(NudgeError, match="evaluation QA pairs are empty"):
        evaluate_retriever(retriever, [])
