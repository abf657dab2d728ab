"""Property-based invariants: NUDGE-N stays unit-norm, untouched rows stay, gamma 0 is the base."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_integrations import NudgeM, NudgeN


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(3, 40))
    d = draw(st.integers(2, 12))
    m = draw(st.integers(1, 15))
    rng = np.random.default_rng(seed)
    corpus = rng.normal(size=(n, d)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    rel = [sorted({int(x) for x in rng.integers(0, n, size=rng.integers(1, 4))}) for _ in range(m)]
    queries = rng.normal(size=(m, d)).astype(np.float32)
    if draw(st.booleans()):  # sometimes a query equals its record: g parallel to e
        queries[0] = corpus[rel[0][0]] * 2
    return corpus, queries, rel


settings.register_profile("ci", max_examples=60, deadline=None)
settings.load_profile("ci")


@given(problems(), st.floats(0.0, 1.99))
def test_nudge_n_output_is_unit_norm_and_finite(p: tuple, gamma: float) -> None:
    corpus, q, rel = p
    out = NudgeN(gamma=gamma, device="cpu").fit(corpus, q, rel).nudged_embeddings(corpus)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@given(problems(), st.floats(0.0, 1.99), st.booleans())
def test_untouched_rows_are_unchanged(p: tuple, gamma: float, variant_m: bool) -> None:
    corpus, q, rel = p
    cls = NudgeM if variant_m else NudgeN
    res = cls(gamma=gamma, device="cpu").fit(corpus, q, rel).result_
    touched = {r for rr in rel for r in rr}
    assert set(res.rows.tolist()) <= touched
    out = res.apply(corpus.copy(), out=corpus.copy())
    untouched = [i for i in range(len(corpus)) if i not in touched]
    np.testing.assert_array_equal(out[untouched], corpus[untouched])


@given(problems(), st.booleans())
def test_gamma_zero_returns_the_base(p: tuple, variant_m: bool) -> None:
    corpus, q, rel = p
    cls = NudgeM if variant_m else NudgeN
    est = cls(gamma=0.0, device="cpu").fit(corpus, q, rel)
    assert est.moved_ids_ == []
    np.testing.assert_allclose(est.nudged_embeddings(corpus), corpus, atol=1e-6)


@given(problems(), st.floats(0.01, 3.0))
def test_nudge_m_moves_by_exactly_gamma(p: tuple, gamma: float) -> None:
    corpus, q, rel = p
    res = NudgeM(gamma=gamma, device="cpu").fit(corpus, q, rel).result_
    if len(res.rows):
        step = np.linalg.norm(res.vectors - corpus[res.rows], axis=1)
        np.testing.assert_allclose(step, gamma, rtol=1e-4, atol=1e-5)


@given(problems(), st.floats(0.01, 1.99))
def test_nudge_n_stays_within_the_bound(p: tuple, gamma: float) -> None:
    corpus, q, rel = p
    res = NudgeN(gamma=gamma, device="cpu").fit(corpus, q, rel).result_
    if len(res.rows):
        sq = (np.linalg.norm(res.vectors - corpus[res.rows], axis=1)) ** 2
        assert (sq <= gamma + 1e-4).all()
