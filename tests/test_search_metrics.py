"""Exact chunked search against brute force, and the metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nudge_integrations.core.metrics import RelevanceTable, evaluate
from nudge_integrations.core.report import evaluate_embeddings, format_table
from nudge_integrations.core.search import exact_search


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("chunk", [None, 7, 1024])
def test_exact_search_matches_brute_force(similarity: str, chunk: int | None) -> None:
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(500, 16)).astype(np.float32) * rng.uniform(
        0.2, 3, size=(500, 1)
    ).astype(np.float32)
    q = rng.normal(size=(20, 16)).astype(np.float32)
    scores, rows = exact_search(
        q, corpus, 10, similarity=similarity, chunk_size=chunk, device="cpu"
    )
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True) if similarity == "cosine" else corpus
    qq = q / np.linalg.norm(q, axis=1, keepdims=True) if similarity == "cosine" else q
    full = qq @ c.T
    expect = np.argsort(-full, axis=1)[:, :10]
    np.testing.assert_array_equal(rows, expect)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expect, 1), rtol=1e-5, atol=1e-5)


def test_dot_and_cosine_differ_for_unnormalised_vectors() -> None:
    corpus = np.array([[1.0, 0.0], [0.6, 0.8]], np.float32) * np.array([[1.0], [5.0]], np.float32)
    q = np.array([[1.0, 0.1]], np.float32)
    assert exact_search(q, corpus, 1, similarity="cosine")[1][0, 0] == 0
    assert exact_search(q, corpus, 1, similarity="dot")[1][0, 0] == 1


def test_exclude_and_short_corpus() -> None:
    corpus = np.eye(4, dtype=np.float32)
    q = np.array([[1.0, 0.5, 0.2, 0.1]], np.float32)
    exclude = np.array([True, False, False, True])
    scores, rows = exact_search(q, corpus, 3, similarity="dot", exclude=exclude)
    assert rows.tolist() == [[1, 2, -1]]
    assert scores[0, 2] == -np.inf


def test_metrics_by_hand() -> None:
    retrieved = np.array([[3, 1, 2], [0, 4, 5], [7, 8, 9]])
    relevance = [{1: 1.0, 2: 1.0}, {5: 2.0, 0: 1.0}, {6: 1.0}]
    out = evaluate(retrieved, relevance, k=3, metrics=["hit", "recall", "mrr", "ndcg"], n_rows=10)
    assert out["hit@3"] == pytest.approx(2 / 3)
    assert out["recall@3"] == pytest.approx((2 / 2 + 2 / 2 + 0) / 3)
    assert out["mrr@3"] == pytest.approx((1 / 2 + 1 / 1 + 0) / 3)
    d = [1 / math.log2(r + 1) for r in (1, 2, 3)]
    ndcg0 = (d[1] + d[2]) / (d[0] + d[1])
    ndcg1 = (1 * d[0] + 2 * d[2]) / (2 * d[0] + 1 * d[1])  # graded: ideal puts the 2 first
    assert out["ndcg@3"] == pytest.approx((ndcg0 + ndcg1 + 0) / 3)


def test_recall_uses_min_of_relevant_and_k() -> None:
    table = RelevanceTable([{0: 1, 1: 1, 2: 1, 3: 1}], n_rows=10)
    assert table.scores(np.array([[0, 9]]), "recall", 2)[0] == pytest.approx(0.5)
    assert table.scores(np.array([[0, 1]]), "recall", 2)[0] == pytest.approx(1.0)


def test_empty_slots_are_misses() -> None:
    table = RelevanceTable([[0]], n_rows=3)
    assert table.scores(np.array([[-1, 0]]), "mrr", 2)[0] == pytest.approx(0.5)


def test_evaluate_embeddings_and_table() -> None:
    corpus = np.eye(3, dtype=np.float32)
    q = np.array([[1, 0.1, 0], [0, 0.1, 1]], np.float32)
    m = evaluate_embeddings(
        q, corpus, [[0], [1]], columns=[("hit", 1), ("recall", 2)], device="cpu"
    )
    assert m == {"hit@1": 0.5, "recall@2": 1.0}
    text = format_table({"base": m, "nudged": {"hit@1": 1.0, "recall@2": 1.0}})
    assert text.splitlines()[0].startswith("|") and "0.5000" in text and "nudged" in text
