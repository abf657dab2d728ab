"""One corpus size measured in this process: the floor, our fits and the reference."""

from __future__ import annotations

import argparse
import functools
import gc
import os
import time
from typing import Any

from benchmarks.fit.memory import GB, peak_window
from benchmarks.fit.problem import (
    DIM,
    FLOOR_K,
    N_TRAIN,
    N_VAL,
    Problem,
    fit_k,
    fit_ours,
    make_problem,
    touched_rows,
)
from benchmarks.fit.profiling import profile_fit
from benchmarks.fit.reference import (
    PARITY_ATOL,
    max_abs_diff,
    reference_available,
    reference_gamma,
    reference_plan,
    run_reference,
    score_gammas,
)
from benchmarks.fit.timing import log, timed, wait_for_quiet
from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.search import exact_search


def floor(p: Problem, k: int, args: argparse.Namespace) -> dict[str, Any]:
    """The package's exact top-``k`` pass of the validation queries, timed."""
    times, _ = timed(
        lambda: exact_search(p.val_q, p.corpus, k, similarity="dot", device="cpu"),
        args.repeats,
        max_runs=3 * args.repeats,
        max_wait=args.max_wait,
    )
    return {"k": k, **times.as_dict()}


def floors(p: Problem, res: dict[str, Any], args: argparse.Namespace) -> None:
    """The floor at top-10 (``res["floor"]``) and at each fit's own k (``floor_at_k``)."""
    n = p.corpus.shape[0]
    log(f"n={n}: floor (exact top-{FLOOR_K} and at the fits' k, dot, {N_VAL} queries)")
    exact_search(
        p.val_q[:8], p.corpus[: min(n, 20_000)], FLOOR_K, similarity="dot", device="cpu"
    )  # warm-up: thread pool, allocator
    res["others_cpu_share_before"] = wait_for_quiet(args.max_wait)
    res["floor"] = floor(p, FLOOR_K, args)
    ks = sorted({fit_k(v) for v in ("N", "M")})
    res["floor_at_k"] = {str(k): floor(p, k, args) for k in ks}


def ours(p: Problem, res: dict[str, Any], args: argparse.Namespace) -> dict[str, NudgeN | NudgeM]:
    """Our NUDGE-N and NUDGE-M fits, timed (``res["ours"]``); returns the estimators."""
    n = p.corpus.shape[0]
    out: dict[str, Any] = {}
    estimators: dict[str, NudgeN | NudgeM] = {}
    for variant in ("N", "M"):
        log(f"n={n}: ours NUDGE-{variant} x{args.repeats}")
        wait_for_quiet(args.max_wait)
        mem: dict[str, Any] = {}
        with peak_window(mem):
            times, est = timed(
                functools.partial(fit_ours, variant, p),
                args.repeats,
                max_runs=3 * args.repeats,
                max_wait=args.max_wait,
            )
        estimators[variant] = est
        r = est.result_
        at_k = res["floor_at_k"][str(fit_k(variant))]
        out[variant] = {
            **times.as_dict(),
            "over_floor": times.value / res["floor"]["seconds"],
            "fit_k": fit_k(variant),
            "over_floor_at_fit_k": times.value / at_k["seconds"],
            "gamma": r.gamma,
            "val_baseline": r.baseline_score,
            "val_best": r.best_score,
            "moved": len(r.ids),
            "memory_in_process": mem,
        }
        log(
            f"n={n}: ours NUDGE-{variant} {times.value:.2f}s, gamma {r.gamma:.4g}, "
            f"val {r.baseline_score} -> {r.best_score}"
        )
        if not args.no_profile:
            out[variant]["profile_s"] = profile_fit(variant, p)
    res["ours"] = out
    return estimators


def reference_variant(
    variant: str, p: Problem, est: NudgeN | NudgeM, ours_s: float, args: argparse.Namespace
) -> dict[str, Any]:
    """The reference's run of ``variant`` next to ours: time, parity, gamma, memory."""
    mem: dict[str, Any] = {}
    wait_for_quiet(args.max_wait)
    with peak_window(mem):
        rtime, ref = timed(
            functools.partial(run_reference, variant, p),
            1,
            max_runs=2,
            max_wait=args.max_wait,
            retry_below_s=300.0,
        )
    ours_vecs = est.nudged_embeddings(p.corpus)
    gam = reference_gamma(variant, p, ref)
    row = {
        **rtime.as_dict(),
        "speedup_ref_over_ours": rtime.value / ours_s,
        "max_abs_diff_vs_ours": max_abs_diff(ours_vecs, ref),
        "gamma_reference": gam,
        "gamma_ours": est.gamma_,
        "gamma_abs_diff": abs(est.gamma_ - gam["gamma"]),
        "memory": mem,
    }
    log(
        f"n={p.corpus.shape[0]}: reference NUDGE-{variant} {rtime.value:.1f}s, max|diff| "
        f"{row['max_abs_diff_vs_ours']:.3g}, gamma ref {gam['gamma']:.4g} ours {est.gamma_:.4g}"
    )
    if row["max_abs_diff_vs_ours"] > PARITY_ATOL:
        row["both_gammas_scored"] = score_gammas(variant, p, [est.gamma_, gam["gamma"]])
    return row


def references(
    p: Problem,
    res: dict[str, Any],
    estimators: dict[str, NudgeN | NudgeM],
    args: argparse.Namespace,
    earlier: dict[int, dict[str, Any]],
) -> None:
    """The reference per variant where it fits its budget (``res["reference"]``)."""
    n = p.corpus.shape[0]
    res["reference"] = {}
    res["reference_skipped"] = {}
    why_not = "--skip-reference was given" if args.skip_reference else reference_available()
    for variant in ("N", "M"):
        if why_not:
            res["reference_skipped"][variant] = {"skipped": why_not}
            continue
        go, plan = reference_plan(n, earlier, variant)
        if not go:
            res["reference_skipped"][variant] = plan
            log(f"n={n}: reference NUDGE-{variant} skipped: {plan['skipped']}")
            continue
        log(f"n={n}: reference NUDGE-{variant}")
        ours_s = res["ours"][variant]["seconds"]
        row = reference_variant(variant, p, estimators[variant], ours_s, args)
        res["reference"][variant] = {**row, "plan": plan}
        gc.collect()


def measure_in_process(
    n: int, args: argparse.Namespace, earlier: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """Floor, our fits and the reference at size ``n``, all in this process."""
    res: dict[str, Any] = {"n": n, "dim": DIM, "n_train": N_TRAIN, "n_val": N_VAL}
    res["loadavg_start"] = os.getloadavg()
    log(f"n={n}: building the corpus")
    t0 = time.perf_counter()
    p = make_problem(n, args.seed)
    res["generate_s"] = time.perf_counter() - t0
    res["corpus_gb"] = p.corpus.nbytes / GB
    res["n_touched"] = len(touched_rows(p))
    floors(p, res, args)
    estimators = ours(p, res, args)
    references(p, res, estimators, args, earlier)
    res["loadavg_end"] = os.getloadavg()
    return res
