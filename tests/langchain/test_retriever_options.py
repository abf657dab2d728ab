"""NudgeRetriever returns scored copies and filters by metadata (dict or callable) before top-k."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.langchain import NudgeRetriever
from nudge_integrations.langchain.retriever import SCORE_KEY

from .conftest import HashEmbeddings


@pytest.fixture(scope="module")
def retriever(qa: dict[str, Any]) -> NudgeRetriever:
    return NudgeRetriever.fit(
        qa["docs"], HashEmbeddings(), qa["pairs"]("train"), val=qa["pairs"]("val"), k=4
    )


@pytest.fixture(scope="module")
def query(qa: dict[str, Any]) -> str:
    test = qa["test"]
    return str(test.queries[test.query_ids[0]])


def expected(
    retriever: NudgeRetriever, query: str, keep: Callable[[Document], bool], k: int
) -> list[str | None]:
    """Brute force: score every document, drop those ``keep`` rejects, take the top k."""
    scores = np.asarray(retriever.vectors) @ retriever.embeddings.embed_query(query)
    docs = retriever.documents
    rows = sorted((i for i, d in enumerate(docs) if keep(d)), key=lambda i: -scores[i])
    return [docs[i].id for i in rows[:k]]


def ids(docs: list[Document]) -> list[str | None]:
    return [d.id for d in docs]


def test_results_are_scored_copies(retriever: NudgeRetriever, query: str) -> None:
    before = [d.model_copy(deep=True) for d in retriever.documents]
    got = retriever.invoke(query, k=5)
    vec = np.asarray(retriever.embeddings.embed_query(query))
    scores = [d.metadata[SCORE_KEY] for d in got]
    assert SCORE_KEY == "score" and scores == sorted(scores, reverse=True)
    rows = {d.id: i for i, d in enumerate(retriever.documents)}
    for doc in got:
        np.testing.assert_allclose(
            doc.metadata["score"], np.asarray(retriever.vectors)[rows[doc.id]] @ vec, rtol=1e-5
        )
        stored = retriever.documents[rows[doc.id]]
        assert doc is not stored and doc.page_content == stored.page_content
        assert {k: v for k, v in doc.metadata.items() if k != "score"} == stored.metadata
    got[0].metadata["topic"] = "changed"
    got[0].metadata["score"] = -1.0
    got[0].page_content = "changed"
    assert retriever.documents == before  # nothing reached the stored documents
    assert retriever.invoke(query, k=5)[0].metadata["score"] == scores[0]


def test_dict_filter_matches_exactly_before_the_top_k(
    retriever: NudgeRetriever, query: str
) -> None:
    want = expected(retriever, query, lambda d: d.metadata["topic"] == "compound", 6)
    assert len(want) == 6
    got = retriever.invoke(query, k=6, filter={"topic": "compound"})
    assert ids(got) == want
    # as a field
    fixed = retriever.model_copy(update={"filter": {"topic": "compound"}})
    assert ids(fixed.invoke(query, k=6)) == want
    # a call's filter replaces the field's
    calls = ids(fixed.invoke(query, k=3, filter={"topic": "calls"}))
    assert calls == expected(retriever, query, lambda d: d.metadata["topic"] == "calls", 3)
    # several keys all have to match; a missing key matches nothing
    first = retriever.documents[0]
    both = {"topic": first.metadata["topic"], "extra": 1}
    assert retriever.invoke(query, filter=both) == []
    assert ids(retriever.invoke(query, filter={"topic": first.metadata["topic"]}))


def test_callable_filter_like_in_memory_vector_store(retriever: NudgeRetriever, query: str) -> None:
    def keep(doc: Document) -> bool:
        return doc.metadata["topic"].startswith("a") and doc.id is not None

    want = expected(retriever, query, keep, 5)
    assert ids(retriever.invoke(query, k=5, filter=keep)) == want
    assert ids(retriever.model_copy(update={"filter": keep}).invoke(query, k=5)) == want
    # same ranking as InMemoryVectorStore's filter on the same (base) vectors
    emb = retriever.embeddings
    docs = retriever.documents
    store = InMemoryVectorStore(emb)
    store.add_documents(docs)
    base = NudgeRetriever(
        documents=docs,
        vectors=emb.embed_documents([d.page_content for d in docs]),
        embeddings=emb,
        similarity="cosine",
    )
    theirs = store.similarity_search(query, k=5, filter=keep)
    assert ids(base.invoke(query, k=5, filter=keep)) == ids(theirs)


def test_fewer_matches_than_k_or_none(retriever: NudgeRetriever, query: str) -> None:
    assert ids(retriever.invoke(query, k=10, filter={"topic": "assert"})) == ["assert-0"]
    assert retriever.invoke(query, filter={"topic": "nowhere"}) == []
    assert retriever.invoke(query, filter=lambda d: False) == []


async def test_async_invoke_filters_too(retriever: NudgeRetriever, query: str) -> None:
    got = await retriever.ainvoke(query, k=3, filter={"topic": "compound"})
    assert ids(got) == ids(retriever.invoke(query, k=3, filter={"topic": "compound"}))
    assert all(d.metadata["topic"] == "compound" and "score" in d.metadata for d in got)


def test_bad_filters_are_named(retriever: NudgeRetriever, query: str, qa: dict[str, Any]) -> None:
    with pytest.raises(NudgeError, match="only matches exact metadata values"):
        retriever.invoke(query, filter={"$and": [{"topic": "calls"}]})
    with pytest.raises(NudgeError, match="operator syntax"):
        retriever.invoke(query, filter={"topic": {"$in": ["calls"]}})
    with pytest.raises(NudgeError, match="not str"):
        retriever.invoke(query, filter="topic")
    with pytest.raises(ValueError, match="operator syntax"):  # pydantic wraps it
        NudgeRetriever(
            documents=qa["docs"][:1],
            vectors=[[1.0, 0.0]],
            embeddings=HashEmbeddings(),
            filter={"topic": {"$eq": "calls"}},
        )


def test_model_dump_json_names_a_callable_filter(qa: dict[str, Any]) -> None:
    def only_calls(doc: Document) -> bool:
        return bool(doc.metadata.get("topic") == "calls")

    kw: dict[str, Any] = {
        "documents": qa["docs"][:2],
        "vectors": [[1.0, 0.0], [0.0, 1.0]],
        "embeddings": HashEmbeddings(),
    }
    named = json.loads(NudgeRetriever(**kw, filter=only_calls).model_dump_json())
    assert named["filter"].endswith("only_calls")
    exact = json.loads(NudgeRetriever(**kw, filter={"topic": "calls"}).model_dump_json())
    assert exact["filter"] == {"topic": "calls"}
