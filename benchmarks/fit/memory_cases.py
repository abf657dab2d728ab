"""Peak memory of our fit, each variant in a fresh interpreter (``bench_fit.py --case``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.fit.memory import GB, current_rss, max_rss, peak_window, read_hwm, reset_hwm
from benchmarks.fit.problem import fit_ours, make_problem
from benchmarks.fit.timing import log

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_fit.py"


def memory_case(variant: str, n: int, seed: int) -> dict[str, Any]:
    """Peak RSS of our fit at size ``n``, in this (fresh) process."""
    gc.collect()
    base_rss = current_rss()
    base_max = max_rss()
    hwm_ok = reset_hwm()  # VmHWM from here on is this process's own peak
    p = make_problem(n, seed)
    gc.collect()
    after_build_rss = current_rss()
    after_build_max = max_rss()
    window: dict[str, Any] = {}
    t0 = time.perf_counter()
    with peak_window(window):
        est = fit_ours(variant, p)
    fit_s = time.perf_counter() - t0
    peak = max_rss()
    hwm = read_hwm() if hwm_ok else None
    corpus_gb = p.corpus.nbytes / GB
    over = peak / GB - base_rss / GB - corpus_gb
    return {
        "variant": variant,
        "n": n,
        "fit_s": fit_s,
        "gamma": est.gamma_,
        "corpus_gb": corpus_gb,
        "queries_gb": (p.train_q.nbytes + p.val_q.nbytes) / GB,
        "baseline_rss_gb": base_rss / GB,
        "baseline_maxrss_gb": base_max / GB,
        "rss_after_build_gb": after_build_rss / GB,
        "maxrss_after_build_gb": after_build_max / GB,
        "maxrss_after_fit_gb": peak / GB,
        "vmhwm_since_start_gb": None if hwm is None else hwm / GB,
        "peak_over_baseline_plus_corpus_gb": over,
        "fit_window_peak_gb": window["peak_gb"],
        "fit_window_growth_gb": window["peak_growth_gb"],
        "meets_target_corpus_plus_1gb": over <= 1.0,
    }


def run_memory_case(variant: str, n: int, seed: int) -> dict[str, Any]:
    """Run :func:`memory_case` in a fresh interpreter.

    Linux carries a parent's peak RSS into a child's ``ru_maxrss`` across fork and exec,
    so this is called before the parent builds any corpus (its own ``ru_maxrss`` at the
    time is recorded, and is below the child's RSS after imports).
    """
    parent_max = max_rss()
    cmd = [sys.executable, str(SCRIPT), "--case", f"ours-{variant}", "--size", str(n)]
    cmd += ["--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["parent_maxrss_at_spawn_gb"] = parent_max / GB
    return result


def memory_cases(n: int, seed: int) -> dict[str, Any]:
    """Peak memory of our NUDGE-N and NUDGE-M fits at size ``n``, one subprocess each."""
    out: dict[str, Any] = {}
    for variant in ("N", "M"):
        log(f"n={n}: peak memory of ours NUDGE-{variant} (subprocess)")
        out[variant] = m = run_memory_case(variant, n, seed)
        if "error" not in m:
            log(
                f"n={n}: NUDGE-{variant} peak {m['maxrss_after_fit_gb']:.2f} GB, over "
                f"baseline+corpus {m['peak_over_baseline_plus_corpus_gb']:.3f} GB"
            )
        else:
            log(f"n={n}: memory case failed: {m['error']}")
    return out
