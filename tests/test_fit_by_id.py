"""``fit_by_id``: a fit against a corpus reached by id equals the in-memory fit, reads only
the named records, takes ledger bases over stored vectors, and names bad records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from nudge_integrations.core import ArraySource, NudgeM, NudgeN, SourceCompetitors, fit_by_id
from nudge_integrations.core.errors import (
    NonFiniteError,
    NudgeError,
    UnknownIdError,
    ZeroVectorError,
)

from .same_fit import assert_same_fit


class CountingSource(ArraySource):
    """An exact in-memory source that counts the records read and the searches made."""

    def __init__(self, vectors: NDArray[np.float32], ids: Sequence[str]) -> None:
        super().__init__(vectors, ids)
        self.read_ids: list[str] = []
        self.searches = 0

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        self.read_ids.extend(ids)
        return super().read(ids)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        self.searches += 1
        return super().nearest(queries, limit)


@pytest.fixture(scope="module")
def problem() -> dict[str, object]:
    """A clustered corpus with queries near (but not at) their relevant records."""
    rng = np.random.default_rng(7)
    n, d = 4000, 32
    centres = rng.standard_normal((40, d)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.8 * rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"doc-{i}" for i in range(n)]
    pool = rng.choice(n, 600, replace=False)
    shift = rng.standard_normal((n, d)).astype(np.float32) * 0.2

    def queries(m: int) -> tuple[NDArray[np.float32], list[list[str]]]:
        rel = pool[rng.integers(0, len(pool), m)]
        q = x[rel] + shift[rel] + 0.35 * rng.standard_normal((m, d)).astype(np.float32)
        return q.astype(np.float32), [[ids[r]] for r in rel]

    tq, tr = queries(800)
    vq, vr = queries(150)
    return {"x": x, "ids": ids, "tq": tq, "tr": tr, "vq": vq, "vr": vr}


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
@pytest.mark.parametrize("with_val", [True, False])
def test_equals_the_in_memory_fit_and_reads_only_named_records(
    problem: dict, cls: type, with_val: bool
) -> None:
    x, ids = problem["x"], problem["ids"]
    val = (problem["vq"], problem["vr"]) if with_val else ()
    memory = cls().fit(x, problem["tq"], problem["tr"], *val, ids=ids).result_
    source = CountingSource(x, ids)
    native = fit_by_id(cls(), source, problem["tq"], problem["tr"], *val).result_
    assert memory.gamma > 0  # the problem has something to learn
    assert_same_fit(memory, native)
    named = {i for rel in problem["tr"] + (problem["vr"] if with_val else []) for i in rel}
    # the named records, then the competitors' vectors (re-scored exactly); nothing else
    first = source.read_ids[: len(named)]
    assert set(first) == named
    assert len(set(source.read_ids)) < len(ids) // 2
    assert native.n_records == len(ids) and (native.rows == -1).all()
    with pytest.raises(NudgeError, match="by id"):
        native.apply(x)


def test_ledger_bases_override_what_the_store_holds(problem: dict) -> None:
    x, ids = problem["x"], problem["ids"]
    rng = np.random.default_rng(0)
    nudged = x.copy()
    changed = rng.choice(len(ids), 500, replace=False)
    nudged[changed] = rng.standard_normal((500, x.shape[1])).astype(np.float32)
    memory = NudgeN().fit(x, problem["tq"], problem["tr"], problem["vq"], problem["vr"], ids=ids)
    base = {ids[i]: x[i] for i in changed}
    store = ArraySource(nudged, ids)
    right = fit_by_id(NudgeN(), store, problem["tq"], problem["tr"], problem["vq"], problem["vr"],
                      base=base)  # fmt: skip
    assert_same_fit(memory.result_, right.result_)
    wrong = fit_by_id(NudgeN(), store, problem["tq"], problem["tr"], problem["vq"], problem["vr"])
    assert set(map(str, wrong.result_.ids)) != set(map(str, memory.result_.ids)) or (
        wrong.result_.gamma != memory.result_.gamma
    )


def test_bad_records_are_named_by_id(problem: dict) -> None:
    x, ids = problem["x"].copy(), problem["ids"]
    named = problem["tr"][3][0]
    row = ids.index(named)
    x[row] = 0.0
    with pytest.raises(ZeroVectorError, match=f"record '{named}'"):
        fit_by_id(NudgeN(), ArraySource(x, ids), problem["tq"], problem["tr"])
    x[row] = np.nan
    with pytest.raises(NonFiniteError, match=f"record '{named}'"):
        fit_by_id(NudgeN(), ArraySource(x, ids), problem["tq"], problem["tr"])
    rel = [list(r) for r in problem["tr"]]
    rel[5] = ["no-such-doc"]
    with pytest.raises(UnknownIdError, match="training query 5 refers to record id 'no-such-doc'"):
        fit_by_id(NudgeN(), ArraySource(problem["x"], ids), problem["tq"], rel)


def test_an_approximate_source_is_noted_and_a_crowded_one_refused(problem: dict) -> None:
    x, ids = problem["x"], problem["ids"]

    class Approximate(ArraySource):
        exact = False

    est = fit_by_id(NudgeN(), Approximate(x, ids), problem["tq"], problem["tr"],
                    problem["vq"], problem["vr"])  # fmt: skip
    assert any("approximate index" in note for note in est.result_.notes)

    class Crowded(ArraySource):
        """A search whose every answer is one of the 20 touched records."""

        def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
            return [[ids[r % 20] for r in range(limit)] for _ in queries]

    competitors = SourceCompetitors(Crowded(x, ids), ids[:20], max_limit=64)
    queries = torch.from_numpy(np.ascontiguousarray(x[100:103]))
    with pytest.raises(NudgeError, match="are all touched by the fit"):
        competitors.topk(queries, 1, np.ones(20, dtype=bool))


@pytest.mark.parametrize(("bad", "error"), [(np.nan, NonFiniteError), (0.0, ZeroVectorError)])
def test_a_competitor_read_back_bad_is_refused_by_id(
    problem: dict, bad: float, error: type[Exception]
) -> None:
    """A record no question names but the search returns as a competitor, held with
    NaN or as all zeros, is refused by id (the in-memory fit refuses it too), instead of
    silently scoring NaN or 0 against the validation queries."""
    x, ids = problem["x"], problem["ids"]
    named = {i for rel in (*problem["tr"], *problem["vr"]) for i in rel}

    class Corrupt(ArraySource):
        def read(self, wanted: Sequence[str]) -> dict[str, NDArray[np.float32]]:
            got = super().read(wanted)
            return {k: (v if k in named else np.full_like(v, bad)) for k, v in got.items()}

    with pytest.raises(error, match="returned by the store's search as a competitor"):
        fit_by_id(NudgeN(), Corrupt(x, ids), problem["tq"], problem["tr"],
                  problem["vq"], problem["vr"])  # fmt: skip


def test_the_recall_note_says_why_recall_was_not_measured(problem: dict) -> None:
    x, ids = problem["x"], problem["ids"]

    class Approximate(ArraySource):
        exact = False

    args = (problem["tq"], problem["tr"], problem["vq"], problem["vr"])
    off = fit_by_id(NudgeN(), Approximate(x, ids), *args, recall_sample=0)
    assert any("not measured: recall_sample=0" in n for n in off.result_.notes)
    on = fit_by_id(NudgeN(), Approximate(x, ids), *args, recall_sample=5)
    assert any("recall@1 " in n and "on 5 of 150" in n for n in on.result_.notes)
