"""Every bad input gets a NudgeError (a ValueError) that names the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from nudge_integrations import NudgeError, NudgeM, NudgeN
from nudge_integrations.core.errors import (
    DuplicateIdError,
    EmptyTrainingSetError,
    MetricMismatchError,
    NonFiniteError,
    ShapeError,
    UnknownIdError,
    ZeroVectorError,
)
from nudge_integrations.core.search import exact_search

from .conftest import Problem


def fit(p: Problem, **kw: object) -> None:
    args = {
        "embeddings": p.corpus,
        "train_queries": p.train_q,
        "train_relevant": p.train_rel,
        "val_queries": p.val_q,
        "val_relevant": p.val_rel,
    }
    est_kw = {
        k: kw.pop(k)
        for k in list(kw)
        if k in {"gamma", "gammas", "metric", "k", "similarity", "device", "validation_fraction"}
    }
    args.update(kw)
    NudgeN(**est_kw).fit(**args)  # type: ignore[arg-type]


def test_all_errors_are_value_errors() -> None:
    for cls in (
        ShapeError,
        NonFiniteError,
        ZeroVectorError,
        EmptyTrainingSetError,
        UnknownIdError,
        DuplicateIdError,
        MetricMismatchError,
    ):
        assert issubclass(cls, NudgeError) and issubclass(cls, ValueError)


def test_wrong_query_dimension(problem: Problem) -> None:
    with pytest.raises(
        ShapeError, match="dimension 16 but the corpus embeddings have dimension 32"
    ):
        fit(problem, train_queries=problem.train_q[:, :16])
    with pytest.raises(ShapeError, match="validation query embeddings has dimension"):
        fit(problem, val_queries=problem.val_q[:, :16])


def test_one_dimensional_corpus(problem: Problem) -> None:
    with pytest.raises(ShapeError, match="must be 2-D"):
        fit(problem, embeddings=problem.corpus[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_name_the_row(problem: Problem, bad: float) -> None:
    corpus = problem.corpus.copy()
    corpus[17, 3] = bad
    with pytest.raises(NonFiniteError, match="corpus embeddings row 17"):
        fit(problem, embeddings=corpus)
    q = problem.train_q.copy()
    q[5, 0] = bad
    with pytest.raises(NonFiniteError, match="training query embeddings row 5"):
        fit(problem, train_queries=q)


def test_all_zero_vectors(problem: Problem) -> None:
    corpus = problem.corpus.copy()
    corpus[9] = 0
    with pytest.raises(ZeroVectorError, match="row 9 is an all-zero vector"):
        fit(problem, embeddings=corpus)
    q = problem.val_q.copy()
    q[2] = 0
    with pytest.raises(ZeroVectorError, match="validation query embeddings row 2"):
        fit(problem, val_queries=q)


def test_empty_training_set(problem: Problem) -> None:
    with pytest.raises(EmptyTrainingSetError, match="training set is empty"):
        fit(problem, train_queries=np.zeros((0, 32), np.float32), train_relevant=[])
    with pytest.raises(EmptyTrainingSetError, match="at least 2 training queries"):
        NudgeN().fit(problem.corpus, problem.train_q[:1], problem.train_rel[:1])


def test_mismatched_lengths(problem: Problem) -> None:
    with pytest.raises(ShapeError, match="600 query embeddings but 599 relevance entries"):
        fit(problem, train_relevant=problem.train_rel[:-1])
    with pytest.raises(ShapeError, match="3 ids for 2000 embedding rows"):
        fit(problem, ids=["a", "b", "c"])
    with pytest.raises(NudgeError, match="both val_queries and val_relevant"):
        fit(problem, val_relevant=None)


def test_unknown_ids_are_named(problem: Problem) -> None:
    ids = [f"d{i}" for i in range(len(problem.corpus))]
    rel = [[ids[r] for r in rel] for rel in problem.train_rel]
    rel[4] = ["d1", "ghost"]
    val = [[ids[r] for r in r_] for r_ in problem.val_rel]
    with pytest.raises(UnknownIdError, match="training query 4 refers to record id 'ghost'"):
        fit(problem, ids=ids, train_relevant=rel, val_relevant=val)
    with pytest.raises(UnknownIdError, match="outside the corpus"):
        fit(problem, train_relevant=[[5000], *problem.train_rel[1:]])
    with pytest.raises(UnknownIdError, match="no ids were given"):
        fit(problem, train_relevant=[["d1"], *problem.train_rel[1:]])


def test_duplicate_ids(problem: Problem) -> None:
    ids = [f"d{i}" for i in range(len(problem.corpus))]
    ids[10] = "d3"
    with pytest.raises(DuplicateIdError, match="'d3' appears twice"):
        fit(problem, ids=ids)


def test_query_without_relevant_records(problem: Problem) -> None:
    rel = list(problem.train_rel)
    rel[7] = []
    with pytest.raises(NudgeError, match="training query 7 has no relevant record"):
        fit(problem, train_relevant=rel)
    with pytest.raises(NudgeError, match="wrap a single id"):
        fit(problem, train_relevant=[3, *problem.train_rel[1:]])


def test_metric_mismatch() -> None:
    with pytest.raises(MetricMismatchError, match="must be ranked by inner product"):
        NudgeM(similarity="cosine")._check_params()
    with pytest.raises(MetricMismatchError, match="unknown similarity"):
        NudgeN(similarity="l2")._check_params()  # type: ignore[arg-type]
    with pytest.raises(NudgeError, match="unknown metric 'map'"):
        NudgeN(metric="map")._check_params()
    with pytest.raises(MetricMismatchError, match="unknown similarity"):
        exact_search(np.ones((1, 4)), np.ones((3, 4)), 1, similarity="euclid")


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"gamma": -0.1}, "gamma must be a finite number >= 0"),
        ({"gamma": float("nan")}, "gamma must be a finite number"),
        ({"gammas": []}, "gammas must be a non-empty list"),
        ({"k": 0}, "k must be a positive integer"),
        ({"validation_fraction": 1.5}, "validation_fraction must be between 0 and 1"),
        ({"gamma": 5.0}, "NUDGE-N needs gamma < 4"),
    ],
)
def test_bad_parameters(problem: Problem, kw: dict[str, object], match: str) -> None:
    with pytest.raises(NudgeError, match=match):
        fit(problem, **kw)


def test_non_numeric_input(problem: Problem) -> None:
    with pytest.raises(ShapeError, match="numeric array"):
        fit(problem, embeddings=np.array([["a", "b"]]))
