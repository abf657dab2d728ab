"""The fit's fast paths give what the plain computations give.

The CPU scan's small-k argmax merge, the gamma grid that scores only the entries whose
bound reaches the top k, and the array pass over plain id lists each have a slower,
simpler twin; these tests hold them to it, ties included.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import nudge_integrations.core.fit as fit_module
import nudge_integrations.core.gamma as gamma_module
from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.errors import UnknownIdError
from nudge_integrations.core.ids import IdIndex, resolve_judgements
from nudge_integrations.core.search import scan_chunks, unit_rows

from .conftest import Problem, make_problem


def reference_topk(
    q: np.ndarray, corpus: np.ndarray, k: int, exclude: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every score at once, ranked by (score desc, row asc): the contract of the scan."""
    unit = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    scores = q @ unit.T
    scores[:, exclude] = -np.inf
    rows = np.empty((len(q), k), dtype=np.int64)
    for i, s in enumerate(scores):
        rows[i] = np.lexsort((np.arange(len(s)), -s))[:k]
    return np.take_along_axis(scores, rows, axis=1), rows


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 10])
@pytest.mark.parametrize("chunk", [7, 100, 5000])
def test_scan_matches_a_full_ranking_with_ties_to_the_lower_row(k: int, chunk: int) -> None:
    rng = np.random.default_rng(k * 1000 + chunk)
    x = rng.normal(size=(400, 16)).astype(np.float32)
    x[200:260] = x[:60]  # exact duplicates in other chunks: ties the scan must order by row
    x[300:310] = x[5]  # and a run of ten copies of one row
    q = np.vstack([x[:60] + 0.01 * rng.normal(size=(60, 16)), x[[5] * 5]]).astype(np.float32)
    exclude = rng.random(400) < 0.1
    exclude[5] = exclude[300] = False
    s, r = scan_chunks(q, x, k, normalize=True, exclude=exclude, chunk_size=chunk)
    ref_s, ref_r = reference_topk(q, x, k, exclude)
    np.testing.assert_allclose(s, ref_s, atol=1e-5)
    # the same rows, except that rows scoring within float rounding of each other (exact
    # duplicates included: a chunk's matrix product may round them a last bit apart) may
    # trade places; every row the scan returns scores within rounding of the k-th best
    full = q @ (x / np.linalg.norm(x, axis=1, keepdims=True)).T
    got = np.take_along_axis(full, r, axis=1)
    assert (got >= ref_s[:, -1:] - 1e-5).all()
    assert not exclude[r].any()
    clear = ref_s > ref_s[:, -1:] + 1e-5  # ranked clearly above the k-th: must be there
    for i in range(len(q)):
        assert set(ref_r[i][clear[i]]) <= set(r[i])
    # a query equal to row 5 ranks its eligible copies first
    copies = [j for j in (5, 205, *range(300, 310)) if not exclude[j]]
    assert all(set(row[: min(k, len(copies))]) <= set(copies) for row in r[60:])


@pytest.mark.parametrize("k", [1, 2, 4, 5, 7, 10])
@pytest.mark.parametrize("chunk", [3, 16, 1000])
def test_exact_ties_go_to_the_lower_row(k: int, chunk: int) -> None:
    """Small-integer vectors score exactly (no rounding), so ties are real ties: the scan
    must keep the lowest rows among them, whichever chunk or merge step meets them."""
    rng = np.random.default_rng(k + chunk)
    x = rng.integers(0, 2, (60, 4)).astype(np.float32)
    q = rng.integers(0, 3, (25, 4)).astype(np.float32)
    q[0] = 1.0
    x[:12] = 1.0  # twelve rows tied at the top for query 0
    exclude = np.zeros(60, dtype=bool)
    exclude[3] = True
    s, r = scan_chunks(q, x, k, normalize=False, exclude=exclude, chunk_size=chunk)
    scores = q @ x.T
    scores[:, exclude] = -np.inf
    ref = np.stack([np.lexsort((np.arange(60), -row))[:k] for row in scores])
    np.testing.assert_array_equal(r, ref)
    np.testing.assert_array_equal(s, np.take_along_axis(scores, ref, axis=1))


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("chunk", [5, 40, 1000])
def test_excluded_rows_are_skipped_even_when_they_fill_the_top(k: int, chunk: int) -> None:
    """The small-k merge skips excluded columns lazily, then fills them for the queries
    whose best entries keep being excluded: both ways must give the plain ranking."""
    rng = np.random.default_rng(k * 10 + chunk)
    x = rng.integers(0, 3, (200, 4)).astype(np.float32)
    q = rng.integers(0, 3, (30, 4)).astype(np.float32)
    scores = q @ x.T
    exclude = rng.random(200) < 0.3
    for row in scores[:10]:  # the first ten queries lose their twenty best rows
        exclude[np.lexsort((np.arange(200), -row))[:20]] = True
    s, r = scan_chunks(q, x, k, normalize=False, exclude=exclude, chunk_size=chunk)
    scores[:, exclude] = -np.inf
    ref = np.stack([np.lexsort((np.arange(200), -row))[:k] for row in scores])
    np.testing.assert_array_equal(r, ref)
    np.testing.assert_array_equal(s, np.take_along_axis(scores, ref, axis=1))


def test_unit_rows_are_scanned_as_they_are_and_others_rescaled() -> None:
    """A chunk of rows already unit length (to float32 rounding) is used uncopied; one row
    off unit length makes the chunk rescaled, and the scan ranks it by cosine."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    out = np.empty_like(x)
    assert unit_rows(x, out, keep_unit=True) is x
    assert unit_rows(x, out) is out
    off = x.copy()
    off[7] *= 3.0
    assert unit_rows(off, out, keep_unit=True) is out
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    q = rng.normal(size=(6, 8)).astype(np.float32)
    _, r_off = scan_chunks(q, off, 3, normalize=True, chunk_size=50)
    _, r_unit = scan_chunks(q, x, 3, normalize=False, chunk_size=50)
    np.testing.assert_array_equal(r_off, r_unit)


def _curves(
    cls: type, p: Problem, monkeypatch: pytest.MonkeyPatch, max_width: int | None, **kw: object
) -> dict[float, float]:
    monkeypatch.setattr(
        fit_module, "grid_search", functools.partial(gamma_module.grid_search, max_width=max_width)
    )
    est = cls(device="cpu", **kw).fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
    monkeypatch.undo()
    return est.curve_


@pytest.mark.parametrize(
    ("cls", "metric", "k", "extra"),
    [
        (NudgeN, "hit", 1, {}),
        (NudgeN, "ndcg", 10, {}),
        (NudgeN, "recall", 3, {"refine": True}),
        (NudgeM, "ndcg", 10, {}),
        (NudgeM, "mrr", 5, {"gammas": [0.0, 0.1, 0.3, 1.0, 3.0]}),
    ],
)
def test_bounded_grid_scores_every_gamma_as_the_dense_ranking(
    cls: type,
    metric: str,
    k: int,
    extra: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = make_problem(seed=3, n=1500, n_train=400, n_val=120)
    kw = {"metric": metric, "k": k, **extra}
    dense = _curves(cls, p, monkeypatch, 0, **kw)  # every block ranked from all of T
    bounded = _curves(cls, p, monkeypatch, 10**9, **kw)  # every block through the bound
    assert dense == bounded
    assert len(dense) > 3 and len(set(dense.values())) > 1  # the curve is not flat


def test_the_default_grid_takes_the_bounded_path(
    problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default width limit, this problem never needs the dense ranking."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the wide ranking ran")

    monkeypatch.setattr(gamma_module, "_rank_wide", refuse)
    est = NudgeN(device="cpu", metric="ndcg", k=10).fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    assert est.gamma_ in est.curve_


@pytest.mark.parametrize("k", [1, 2, 4])
def test_small_k_picks_equal_the_sort_by_score_then_row(k: int) -> None:
    rng = np.random.default_rng(k)
    t_s = rng.integers(0, 4, (300, 6)).astype(np.float32)  # many exact ties
    t_s[rng.random((300, 6)) < 0.3] = -np.inf  # padding
    t_r = rng.permutation(10_000)[:1800].reshape(300, 6)
    t_r[np.isneginf(t_s)] = -1
    u_s = np.sort(rng.integers(0, 4, (300, k)).astype(np.float32), axis=1)[:, ::-1].copy()
    u_s[:5] = -np.inf  # queries with no untouched competitor
    u_r = 20_000 + np.argsort(rng.random((300, 100)), axis=1)[:, :k]  # distinct per query
    u_r[:5] = -1
    args = [torch.from_numpy(a) for a in (t_s, t_r, u_s, u_r)]
    got = gamma_module._top(*args, k)
    cand_s, cand_r = np.hstack([t_s, u_s]), np.hstack([t_r, u_r])
    order = np.lexsort((cand_r, -cand_s), axis=-1)[:, :k]
    np.testing.assert_array_equal(got, np.take_along_axis(cand_r, order, axis=1))


def test_plain_id_lists_resolve_as_the_checked_loop() -> None:
    rng = np.random.default_rng(0)
    rel = [[int(v) for v in rng.integers(0, 50, rng.integers(1, 4))] for _ in range(200)]
    rel[3] = [7, 7, 9]  # a record named twice by one query counts once
    index = IdIndex(None, 50)
    fast = resolve_judgements(rel, index, len(rel), "training")
    # arrays per query are not plain lists: the checked loop handles them
    slow = resolve_judgements([np.asarray(r) for r in rel], index, len(rel), "training")
    for a, b in zip(
        (fast.query, fast.row, fast.gain), (slow.query, slow.row, slow.gain), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    ids = [f"doc{i}" for i in range(50)]
    named = [[ids[v] for v in r] for r in rel]
    by_id = resolve_judgements(named, IdIndex(ids, 50), len(rel), "training")
    np.testing.assert_array_equal(by_id.row, fast.row)
    np.testing.assert_array_equal(by_id.query, fast.query)


@pytest.mark.parametrize(
    ("rel", "ids", "message"),
    [
        ([[1], [60]], None, "row 60, outside the corpus"),
        ([[1], [True]], None, "no ids were given"),
        ([["doc1"], ["nope"]], [f"doc{i}" for i in range(50)], "record id 'nope'"),
        ([[1], []], None, "query 1 has no relevant record"),
    ],
)
def test_plain_lists_with_a_problem_get_the_checked_loops_message(
    rel: list[list[object]], ids: list[str] | None, message: str
) -> None:
    with pytest.raises((UnknownIdError, Exception), match=message):
        resolve_judgements(rel, IdIndex(ids, 50), len(rel), "training")


def _geometry_blocks(variant: str) -> tuple[object, tuple[torch.Tensor, ...], torch.Tensor]:
    """A geometry of 300 touched rows (some frozen: pull against or along e), query blocks
    for 40 queries and floors spread over the blocks' score range."""
    rng = np.random.default_rng(7)
    e = torch.nn.functional.normalize(
        torch.from_numpy(rng.normal(size=(300, 24)).astype(np.float32)), dim=1
    )
    g = torch.from_numpy(rng.normal(size=(300, 24)).astype(np.float32)) + 2 * e
    g[:10] = -e[:10]  # pulled away from e: frozen
    g[10:20] = 3 * e[10:20]  # pulled along e: no orthogonal part
    geometry = (gamma_module.NGeometry if variant == "N" else gamma_module.MGeometry)(e, g)
    q = torch.from_numpy(rng.normal(size=(40, 24)).astype(np.float32))
    floor = torch.from_numpy(np.linspace(-0.5, 2.0, 40).astype(np.float32))
    return geometry, geometry.blocks(q), floor


@pytest.mark.parametrize("variant", ["N", "M"])
def test_reach_in_numpy_equals_the_bound_in_torch(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CPU's numpy ``reach`` marks exactly the entries whose torch bound (what an
    accelerator computes) reaches the floor, and every entry that scores above the floor
    at some gamma of the grid."""
    geometry, blocks, floor = _geometry_blocks(variant)
    monkeypatch.setattr(gamma_module, "_CACHE_ENTRIES", 1000)  # pieces of three queries
    gammas = [0.0, 0.1, 0.3, 0.9, 3.0] if variant == "N" else [0.0, 0.5, 2.0]
    got = geometry.reach(blocks, gammas, floor).numpy()  # type: ignore[attr-defined]
    a, b = blocks
    if variant == "N":
        bound = torch.hypot(a, b)
    else:
        bound = torch.maximum(a + min(gammas) * b, a + max(gammas) * b)
    margin = (bound - floor.unsqueeze(1)).abs().numpy() > 1e-5  # clear of rounding
    want = (bound >= floor.unsqueeze(1)).numpy()
    np.testing.assert_array_equal(got[margin], want[margin])
    for gamma in gammas:
        above = (geometry.score(gamma, blocks) > floor.unsqueeze(1) + 1e-5).numpy()  # type: ignore[attr-defined]
        assert not (above & ~got).any()


def test_touched_bounds_in_numpy_equal_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """NUDGE-M's per-pair crossing bounds: the CPU's cache-sized numpy pieces give the
    same float32 values as the torch path (``lo`` clamped at 0, as both return it), pairs
    sharing a query included."""
    _, (qe, qg), _ = _geometry_blocks("M")
    monkeypatch.setattr(gamma_module, "_CACHE_ENTRIES", 1000)  # pieces of three pairs
    rng = np.random.default_rng(1)
    local_q = torch.from_numpy(np.sort(rng.integers(0, 40, 90)))
    s_x = torch.from_numpy(rng.normal(size=90).astype(np.float32))
    g_x = torch.from_numpy(rng.normal(size=90).astype(np.float32))
    g_x[:5] = qg[local_q[:5], 3]  # exact ties in g: the blocked rule
    s_x[:5] = qe[local_q[:5], 3] - 1.0
    got = gamma_module._touched_bounds(qe, qg, local_q, s_x, g_x)
    want = gamma_module._bounds(qe[local_q] - s_x.unsqueeze(1), g_x.unsqueeze(1) - qg[local_q])
    assert got[2][:5].all()
    assert (got[0] > 0).any() and (want[0] < 0).any()  # both sides of the clamp occur
    np.testing.assert_array_equal(got[0].numpy(), want[0].clamp(min=0.0).numpy())
    for a, b in zip(got[1:], want[1:], strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
