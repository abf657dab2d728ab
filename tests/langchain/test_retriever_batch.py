"""NudgeRetriever.batch / abatch embed their questions in one ``embed_documents`` call
(not one ``embed_query`` each) and return what ``invoke`` returns for each, keeping
LangChain's batch semantics: a config per input, ``return_exceptions``, keyword arguments."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from nudge_integrations.core.errors import ShapeError
from nudge_integrations.langchain import NudgeRetriever

from ..hashing import hash_embed


class Counted(Embeddings):
    """Hashing embeddings counting calls (not texts); ``prefix`` embeds queries with an
    instruction, as asymmetric models do; a text with ``BAD`` gets a 3-d vector."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.document_calls = 0
        self.query_calls = 0

    @staticmethod
    def _vec(text: str) -> list[float]:
        return [0.1, 0.2, 0.3] if "BAD" in text else hash_embed(text).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls += 1
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        return self._vec(self.prefix + text)


class Runs(BaseCallbackHandler):
    """The names of the retriever runs started and ended, in order."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.ended: list[UUID] = []

    def on_retriever_start(
        self, serialized: Any, query: str, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.started.append(str(kwargs.get("name")))

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.ended.append(run_id)


def make(qa: dict[str, Any], embeddings: Embeddings) -> NudgeRetriever:
    docs: list[Document] = qa["docs"]
    vectors = [hash_embed(d.page_content).tolist() for d in docs]
    return NudgeRetriever(documents=docs, vectors=vectors, embeddings=embeddings, k=5)


def questions(qa: dict[str, Any], n: int = 30) -> list[str]:
    test = qa["test"]
    return [str(test.queries[q]) for q in test.query_ids[:n]]


def ids(results: list[Any]) -> list[Any]:
    return [[(d.id, d.metadata["score"]) for d in docs] for docs in results]


def test_batch_embeds_once_and_equals_invoke(qa: dict[str, Any]) -> None:
    embeddings = Counted()
    retriever = make(qa, embeddings)
    asked = questions(qa)
    got = retriever.batch(asked)
    # one embed_documents call, and one embed_query that checks queries embed alike
    assert (embeddings.document_calls, embeddings.query_calls) == (1, 1)
    again = retriever.batch(asked[:10])
    assert (embeddings.document_calls, embeddings.query_calls) == (2, 1)  # known now
    one_by_one = [retriever.invoke(q) for q in asked]
    assert ids(got) == ids(one_by_one) and ids(again) == ids(one_by_one[:10])
    assert retriever.batch([]) == []


def test_keyword_arguments_and_configs_reach_each_question(qa: dict[str, Any]) -> None:
    retriever = make(qa, Counted())
    asked = questions(qa, 6)
    keep = {"topic": qa["docs"][0].metadata["topic"]}
    got = retriever.batch(asked, k=2, filter=keep)
    assert ids(got) == ids([retriever.invoke(q, k=2, filter=keep) for q in asked])
    runs = Runs()
    configs: list[Any] = [{"run_name": f"q{n}", "callbacks": [runs]} for n in range(len(asked))]
    retriever.batch(asked, configs)
    assert runs.started == [f"q{n}" for n in range(len(asked))] and len(runs.ended) == 6


def test_return_exceptions_gives_each_question_its_outcome(qa: dict[str, Any]) -> None:
    retriever = make(qa, Counted())
    asked = questions(qa, 4)
    asked[2] = "a BAD question"
    got = retriever.batch(asked, return_exceptions=True)
    assert isinstance(got[2], ShapeError)
    assert ids([got[0], got[1], got[3]]) == ids([retriever.invoke(asked[i]) for i in (0, 1, 3)])
    with pytest.raises(ShapeError, match="dimension 3"):
        retriever.batch(asked)


def test_a_model_that_embeds_queries_otherwise_keeps_embed_query(qa: dict[str, Any]) -> None:
    embeddings = Counted(prefix="query: ")
    retriever = make(qa, embeddings)
    asked = questions(qa, 8)
    got = retriever.batch(asked)
    assert ids(got) == ids([retriever.invoke(q) for q in asked])
    before = (embeddings.document_calls, embeddings.query_calls)
    retriever.batch(asked)
    assert (embeddings.document_calls, embeddings.query_calls) == (
        before[0],
        before[1] + len(asked),
    )


async def test_abatch_embeds_once_and_equals_ainvoke(qa: dict[str, Any]) -> None:
    embeddings = Counted()
    retriever = make(qa, embeddings)
    asked = questions(qa)
    got = await retriever.abatch(asked)
    assert (embeddings.document_calls, embeddings.query_calls) == (1, 1)
    assert ids(got) == ids([await retriever.ainvoke(q) for q in asked])
    bad = [*asked[:2], "BAD"]
    out = await retriever.abatch(bad, return_exceptions=True)
    assert isinstance(out[2], ShapeError) and not isinstance(out[0], Exception)
