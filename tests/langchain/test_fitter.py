"""NudgeFitter and NudgeRetriever on real LangChain objects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations import NudgeN
from nudge_integrations.core.errors import (
    DuplicateIdError,
    MetricMismatchError,
    NudgeError,
    UnknownIdError,
)
from nudge_integrations.langchain import NudgeFitter, NudgeRetriever

from ..hashing import hash_embed
from .conftest import HashEmbeddings


def fitted(qa: dict[str, Any], embeddings: HashEmbeddings, **kw: Any) -> NudgeFitter:
    return NudgeFitter(embeddings, **kw).fit(
        qa["docs"], qa["pairs"]("train"), val=qa["pairs"]("val")
    )


def test_fit_matches_the_core(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    fitter = fitted(qa, embeddings)
    ids = [d.id for d in qa["docs"]]
    base = np.stack([hash_embed(d.page_content) for d in qa["docs"]])
    tr, va = qa["train"], qa["val"]
    core = NudgeN(refit_with_validation=True).fit(  # the adapters' default
        base,
        np.stack([hash_embed(tr.queries[q]) for q in tr.query_ids]),
        tr.judgements(),
        np.stack([hash_embed(va.queries[q]) for q in va.query_ids]),
        va.judgements(),
        ids=ids,
    )
    assert fitter.gamma_ == core.gamma_
    np.testing.assert_allclose(fitter.nudged_matrix(), core.nudged_embeddings(base), atol=1e-6)
    assert fitter.result_.moved_ids == core.moved_ids_


def test_retriever_fit_in_one_call_and_k(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    retriever = NudgeRetriever.fit(
        qa["docs"], embeddings, qa["pairs"]("train"), val=qa["pairs"]("val"), k=3
    )
    query = qa["test"].queries[qa["test"].query_ids[0]]
    assert len(retriever.invoke(query)) == 3
    assert len(retriever.invoke(query, k=5)) == 5
    docs = retriever.invoke(query, k=1)
    original = next(d for d in qa["docs"] if d.id == docs[0].id)
    assert docs[0].page_content == original.page_content
    assert {k: v for k, v in docs[0].metadata.items() if k != "score"} == original.metadata


async def test_async_and_callbacks(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    retriever = fitted(qa, embeddings).as_retriever(k=2)
    seen: list[str] = []

    class Spy(BaseCallbackHandler):
        def on_retriever_start(self, serialized: Any, query: str, **kw: Any) -> None:
            seen.append(query)

        def on_retriever_end(self, documents: Any, **kw: Any) -> None:
            seen.append(f"end:{len(documents)}")

    query = qa["test"].queries[qa["test"].query_ids[1]]
    docs = await retriever.ainvoke(query, config={"callbacks": [Spy()]})
    assert [d.id for d in docs] == [d.id for d in retriever.invoke(query)]
    assert seen == [query, "end:2"]


def test_nudge_m_retriever_ranks_by_inner_product(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    fitter = fitted(qa, embeddings, variant="M")
    assert fitter.gamma_ > 0
    matrix = fitter.nudged_matrix()
    query = qa["test"].queries[qa["test"].query_ids[0]]
    got = [d.id for d in fitter.as_retriever(k=3).invoke(query)]
    order = np.argsort(-(matrix @ hash_embed(query)))[:3]
    assert got == [fitter.ids_[i] for i in order]


def test_fit_from_in_memory_store_reuses_vectors(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"])
    calls = embeddings.document_calls
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    assert embeddings.document_calls == calls
    assert sorted(fitter.ids_) == sorted(d.id for d in qa["docs"])
    direct = fitted(qa, embeddings)
    assert fitter.gamma_ == direct.gamma_


def test_swap_in_revert_and_reapply_after_reindex(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"])
    base = {i: list(r["vector"]) for i, r in store.store.items()}
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    written = fitter.swap_in(store)
    nudged = dict(zip(fitter.ids_, fitter.nudged_matrix(), strict=True))
    for i in base:
        expect = nudged[i] if i in written else base[i]
        np.testing.assert_allclose(store.store[i]["vector"], expect, atol=1e-6)
    # the store now serves the nudged ranking
    query = qa["test"].queries[qa["test"].query_ids[0]]
    assert [d.id for d in store.similarity_search(query, k=3)] == [
        d.id for d in fitter.as_retriever(k=3).invoke(query)
    ]
    # a plain re-add re-embeds and silently overwrites the nudge ...
    changed = qa["docs"][0]
    store.add_documents(
        [*qa["docs"][1:], Document(id=changed.id, page_content="new text", metadata={})]
    )
    assert all(store.store[i]["vector"] == base[i] for i in written if i != changed.id)
    # ... and one call puts it back, skipping the document whose text changed
    report = fitter.reapply(store)
    assert changed.id not in report.written
    if changed.id in written:
        assert report.changed == [changed.id]
    for i in report.written:
        np.testing.assert_allclose(store.store[i]["vector"], nudged[i], atol=1e-6)
    fitter.revert(store, [i for i in written if i != changed.id])
    for i in written:
        if i != changed.id:
            np.testing.assert_allclose(store.store[i]["vector"], base[i], atol=1e-6)


def test_nudge_m_refused_by_in_memory_cosine_store(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"])
    before = {i: list(r["vector"]) for i, r in store.store.items()}
    fitter = NudgeFitter(embeddings, variant="M").fit(store, qa["pairs"]("train"))
    with pytest.raises(MetricMismatchError, match="InMemoryVectorStore ranks by cosine"):
        fitter.swap_in(store)
    assert {i: r["vector"] for i, r in store.store.items()} == before


def test_bad_input(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    docs = qa["docs"]
    with pytest.raises(NudgeError, match="document 1 has no id"):
        NudgeFitter(embeddings).fit([docs[0], Document(page_content="x")], {"q": [docs[0].id]})
    with pytest.raises(DuplicateIdError, match="repeats the id"):
        NudgeFitter(embeddings).fit([docs[0], docs[0]], {"q": [docs[0].id]})
    with pytest.raises(UnknownIdError, match=r"training pair 0 \('what\?'\) marks 'ghost'"):
        NudgeFitter(embeddings).fit(docs, {"what?": ["ghost"]})
    with pytest.raises(NudgeError, match="pair 0 must be"):
        NudgeFitter(embeddings).fit(docs, [("only a question",)])
    with pytest.raises(NudgeError, match="not supported"):
        NudgeFitter(embeddings).fit(object(), {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 1 vectors for 2 documents"):
        NudgeRetriever(documents=docs[:2], vectors=[[0.0] * 64], embeddings=embeddings)


def test_pseudo_queries_without_an_llm_feed_a_fit(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    from nudge_integrations.langchain import generate_pseudo_queries

    ds = generate_pseudo_queries(qa["docs"], per_doc=2)
    assert len(ds) > 20
    assert all(q.split("#")[0] in ds.relevant_docs[q] for q in ds.query_ids)
    fitter = NudgeFitter(embeddings, gamma=0.2).fit(qa["docs"], ds)
    assert len(fitter.result_.moved_ids) > 0
    with pytest.raises(NudgeError, match="document 0 has no id"):
        generate_pseudo_queries([Document(page_content="One sentence here that is long. Two.")])
