"""The estimators' behaviour: ids, results, validation split, fixed gamma, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nudge_integrations import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.device import one_cpu_thread
from nudge_integrations.core.errors import NotFittedError, UnknownIdError
from nudge_integrations.core.gamma import REFERENCE_N_GRID

from .conftest import Problem


def with_ids(p: Problem) -> tuple[list[str], list[list[str]], list[list[str]]]:
    ids = [f"doc-{i}" for i in range(len(p.corpus))]
    return (
        ids,
        [[ids[r] for r in rel] for rel in p.train_rel],
        [[ids[r] for r in rel] for rel in p.val_rel],
    )


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_ids_give_the_same_result_as_rows(problem: Problem, cls: type) -> None:
    ids, tr, va = with_ids(problem)
    by_row = cls(device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    by_id = cls(device="cpu").fit(problem.corpus, problem.train_q, tr, problem.val_q, va, ids=ids)
    assert by_id.gamma_ == by_row.gamma_
    assert by_id.moved_ids_ == [ids[r] for r in by_row.moved_ids_]
    res = by_id.result_
    assert isinstance(res, NudgeResult)
    for key, vec in res.as_dict().items():
        np.testing.assert_array_equal(vec, by_row.result_.vector(int(key.split("-")[1])))
    assert res.ids[0] in res and "nope" not in res
    with pytest.raises(UnknownIdError, match="did not move"):
        res.vector("not-a-doc")


def test_only_records_with_training_queries_move(problem: Problem) -> None:
    est = NudgeN(device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    touched = {r for rel in problem.train_rel for r in rel}
    assert est.gamma_ > 0
    assert set(est.moved_ids_) <= touched
    assert len(est.moved_ids_) > 0.9 * len(touched)
    assert est.result_.n_touched == len(touched)
    out = est.nudged_embeddings(problem.corpus)
    untouched = np.setdiff1d(np.arange(len(problem.corpus)), list(touched))
    np.testing.assert_allclose(out[untouched], problem.corpus[untouched], atol=1e-6)


def test_curve_covers_the_reference_grid_and_explains_gamma(problem: Problem) -> None:
    est = NudgeN(device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    curve = est.curve_
    assert list(curve) == list(REFERENCE_N_GRID)
    best = max(curve.values())
    assert curve[est.gamma_] == best
    assert all(curve[g] < best for g in curve if g < est.gamma_)  # ties go to the smaller gamma
    assert est.result_.baseline_score == curve[0.0]
    assert est.result_.best_score == best > curve[0.0]
    assert "validation hit@1" in est.result_.summary()


def test_refine_searches_a_finer_grid(problem: Problem) -> None:
    coarse = NudgeN(device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    fine = NudgeN(refine=True, device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    assert len(fine.curve_) > len(coarse.curve_)
    assert fine.curve_[fine.gamma_] >= coarse.curve_[coarse.gamma_]
    assert abs(fine.gamma_ - coarse.gamma_) <= 0.02 + 1e-9


@pytest.mark.parametrize("metric,k", [("ndcg", 10), ("recall", 5), ("mrr", 10), ("hit", 3)])
@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_other_validation_metrics(problem: Problem, cls: type, metric: str, k: int) -> None:
    est = cls(metric=metric, k=k, device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    res = est.result_
    assert (res.metric, res.k) == (metric, k)
    assert res.best_score is not None and res.baseline_score is not None
    assert res.best_score >= res.baseline_score
    assert est.curve_[est.gamma_] == max(est.curve_.values())


def test_nudge_m_curve_is_the_exact_sweep(problem: Problem) -> None:
    est = NudgeM(device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    assert est.gamma_ in est.curve_ and 0.0 in est.curve_
    assert est.curve_[est.gamma_] == max(est.curve_.values())
    assert est.result_.similarity == "dot"


def test_without_validation_a_deterministic_split_is_used_and_reported(problem: Problem) -> None:
    a = NudgeN(device="cpu").fit(problem.corpus, problem.train_q, problem.train_rel)
    b = NudgeN(device="cpu").fit(problem.corpus, problem.train_q, problem.train_rel)
    assert a.result_.validation_source == "split"
    assert any("held out" in note for note in a.result_.notes)
    assert a.gamma_ == b.gamma_ and a.moved_ids_ == b.moved_ids_
    # refit: the final nudge uses every training query, so all their records are touched
    assert a.result_.n_touched == len({r for rel in problem.train_rel for r in rel})
    no_refit = NudgeN(device="cpu", refit=False).fit(
        problem.corpus, problem.train_q, problem.train_rel
    )
    assert no_refit.result_.n_touched < a.result_.n_touched


def test_fixed_gamma_skips_validation(problem: Problem) -> None:
    est = NudgeN(gamma=0.1, device="cpu").fit(problem.corpus, problem.train_q, problem.train_rel)
    assert est.gamma_ == 0.1 and est.curve_ == {} and est.result_.validation_source == "none"


def test_always_nudges_from_the_base_not_from_nudged_vectors(problem: Problem) -> None:
    """Fitting twice on the same base gives the same vectors; nothing accumulates."""
    est = NudgeN(gamma=0.2, device="cpu")
    first = est.fit(problem.corpus, problem.train_q, problem.train_rel).nudged_embeddings(
        problem.corpus
    )
    second = est.fit(problem.corpus, problem.train_q, problem.train_rel).nudged_embeddings(
        problem.corpus
    )
    np.testing.assert_array_equal(first, second)


def test_apply_in_place_writes_only_moved_rows(problem: Problem) -> None:
    est = NudgeM(gamma=0.3, device="cpu").fit(problem.corpus, problem.train_q, problem.train_rel)
    base = problem.corpus.copy()
    out = est.result_.apply(base, out=base)
    assert out is base
    moved = est.result_.rows
    untouched = np.setdiff1d(np.arange(len(base)), moved)
    np.testing.assert_array_equal(base[untouched], problem.corpus[untouched])
    np.testing.assert_allclose(base[moved], est.result_.vectors)


def test_memmap_corpus_and_float64_input(problem: Problem, tmp_path: object) -> None:
    path = f"{tmp_path}/corpus.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=problem.corpus.shape)
    mm[:] = problem.corpus
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=problem.corpus.shape)
    args = (problem.train_q, problem.train_rel, problem.val_q, problem.val_rel)
    a = NudgeN(device="cpu", chunk_size=300).fit(ro, *args)
    b = NudgeN(device="cpu").fit(problem.corpus.astype(np.float64), *args)
    assert a.gamma_ == b.gamma_
    np.testing.assert_allclose(a.result_.vectors, b.result_.vectors, atol=1e-6)


def test_unit_norm_output_for_unnormalised_input(problem: Problem) -> None:
    scaled = problem.corpus * np.linspace(0.5, 3, len(problem.corpus), dtype=np.float32)[:, None]
    est = NudgeN(device="cpu").fit(
        scaled, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    ref = NudgeN(device="cpu").fit(
        problem.corpus, problem.train_q, problem.train_rel, problem.val_q, problem.val_rel
    )
    assert est.gamma_ == ref.gamma_
    np.testing.assert_allclose(
        np.linalg.norm(est.nudged_embeddings(scaled), axis=1), 1.0, atol=1e-5
    )


def test_reading_results_before_fit_is_a_clear_error() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        _ = NudgeN().gamma_


def test_device_choice() -> None:
    import torch

    from nudge_integrations.core.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_params_follow_scikit_learn_conventions() -> None:
    est = NudgeN(refine=True, k=5, metric="recall")
    assert est.get_params()["refine"] is True and est.get_params()["k"] == 5
    assert repr(est) == "NudgeN(refine=True, metric='recall', k=5)"
    assert est.set_params(k=3) is est and est.k == 3
    with pytest.raises(ValueError, match="unknown parameter 'kk'"):
        est.set_params(kk=1)
    assert not hasattr(est, "result_")  # learned state appears only after fit


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_sklearn_clone_copies_parameters_not_learned_state(problem: Problem, cls: type) -> None:
    """``sklearn.base.clone`` needs ``get_params(deep=...)``: the clone has the same
    parameters and no fit."""
    from sklearn.base import clone

    est = cls(gamma=0.1, k=3, metric="ndcg", random_state=7)
    est.set_params(device="cpu").fit(problem.corpus, problem.train_q, problem.train_rel)
    copy = clone(est)
    assert copy is not est
    assert copy.get_params() == est.get_params()
    assert copy.get_params(deep=False) == est.get_params(deep=True)
    assert not hasattr(copy, "result_")


def test_a_fit_leaves_torch_threads_as_it_found_them(problem: Problem) -> None:
    """The fit's elementwise work runs on one torch thread on the CPU; the count it found
    is back afterwards, after a failure inside too."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        p = problem
        NudgeN(device="cpu").fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), one_cpu_thread(torch.device("cpu")):
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
