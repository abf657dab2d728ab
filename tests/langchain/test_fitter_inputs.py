"""NudgeFitter: mistakes refused where they are made, and questions embedded in bulk."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from nudge_integrations.core.errors import EmptyTrainingSetError, NudgeError
from nudge_integrations.langchain import NudgeFitter

from ..hashing import hash_embed
from .conftest import HashEmbeddings


class SlowQueries(HashEmbeddings):
    """Each question takes a moment, like a model behind an API; records how many calls
    were in flight at once and how many batches were asked for."""

    def __init__(self, delay: float = 0.005) -> None:
        super().__init__()
        self.delay = delay
        self.batches = 0
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def _enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def _leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def embed_query(self, text: str) -> list[float]:
        self._enter()
        time.sleep(self.delay)
        self._leave()
        return super().embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.batches += 1
        return super().embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        self._enter()
        await asyncio.sleep(self.delay)
        self._leave()
        self.query_calls += 1
        return hash_embed(text).tolist()


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        ({}, "training QA pairs are empty"),
        ([], "training QA pairs are empty"),
        ("what is x", "not the string"),
        ([("q?", [])], "lists no relevant ids"),
    ],
)
def test_bad_training_pairs_are_named(
    qa: dict[str, Any], embeddings: HashEmbeddings, pairs: Any, match: str
) -> None:
    with pytest.raises(NudgeError, match=match):
        NudgeFitter(embeddings).fit(qa["docs"], pairs)
    assert embeddings.query_calls == 0  # refused before any embedding


def test_empty_validation_pairs_are_refused(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    with pytest.raises(EmptyTrainingSetError, match="validation QA pairs are empty"):
        NudgeFitter(embeddings).fit(qa["docs"], qa["pairs"]("train"), val={})


def test_a_bare_id_stands_for_a_one_element_list(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    from langchain_core.documents import Document

    docs = [
        Document(id=str(4983 + i), page_content=d.page_content) for i, d in enumerate(qa["docs"])
    ]
    pairs = {q: int(rel[0].split("-")[-1]) % 5 + 4983 for q, rel in qa["pairs"]("train")}
    fitter = NudgeFitter(embeddings).fit(docs, pairs)
    as_lists = NudgeFitter(embeddings).fit(docs, {q: [str(i)] for q, i in pairs.items()})
    assert fitter.result_.moved_ids == as_lists.result_.moved_ids
    np.testing.assert_array_equal(fitter.nudged_matrix(), as_lists.nudged_matrix())


def test_queries_and_relevant_docs_dict_uses_the_documents_as_corpus(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    ds = qa["train"]
    pairs = {"queries": ds.queries, "relevant_docs": ds.relevant_docs}  # no corpus key
    fitter = NudgeFitter(embeddings).fit(qa["docs"], pairs)
    assert fitter.gamma_ >= 0


def test_unknown_keywords_are_refused_at_construction(embeddings: HashEmbeddings) -> None:
    with pytest.raises(
        NudgeError, match=r"NudgeFitter\(\) got an unexpected keyword 'gama'; did you mean 'gamma'"
    ):
        NudgeFitter(embeddings, gama=0.1)
    with pytest.raises(NudgeError, match=r"'batch_sise'.*'batch_size'"):
        NudgeFitter(embeddings, batch_sise=8)


def test_questions_are_embedded_in_batches_or_concurrently(qa: dict[str, Any]) -> None:
    train, val = qa["pairs"]("train"), qa["pairs"]("val")
    n_questions = len({q for q, _ in train + val})
    serial = SlowQueries()
    a = NudgeFitter(serial, concurrency=1).fit(qa["docs"], train, val=val)
    assert serial.peak == 1 and serial.query_calls == n_questions
    threaded = SlowQueries()
    b = NudgeFitter(threaded, concurrency=8).fit(qa["docs"], train, val=val)
    assert 1 < threaded.peak <= 8
    batched = SlowQueries()
    c = NudgeFitter(batched, queries_as_documents=True, batch_size=50).fit(
        qa["docs"], train, val=val
    )
    assert batched.query_calls == 0
    # the documents once, one probe question (its dimension checked first), then the rest
    assert batched.batches == 1 + 1 + -(-(n_questions - 1) // 50)
    for other in (b, c):
        assert other.gamma_ == a.gamma_
        np.testing.assert_array_equal(other.nudged_matrix(), a.nudged_matrix())


async def test_afit_embeds_concurrently_and_matches_fit(qa: dict[str, Any]) -> None:
    train, val = qa["pairs"]("train"), qa["pairs"]("val")
    emb = SlowQueries()
    fitted = await NudgeFitter(emb, concurrency=16).afit(qa["docs"], train, val=val)
    assert emb.query_calls == len({q for q, _ in train + val})
    assert 1 < emb.peak <= 16
    sync = NudgeFitter(HashEmbeddings()).fit(qa["docs"], train, val=val)
    assert fitted.gamma_ == sync.gamma_
    np.testing.assert_array_equal(fitted.nudged_matrix(), sync.nudged_matrix())


def test_one_question_without_validation_names_the_adapters_arguments(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    one = qa["pairs"]("train")[:1]
    with pytest.raises(EmptyTrainingSetError, match=r"pass val=\[") as info:
        NudgeFitter(embeddings).fit(qa["docs"], one)
    assert "val_queries" not in str(info.value)
    NudgeFitter(embeddings, gamma=0.1).fit(qa["docs"], one)  # a fixed gamma needs no split
