"""In-memory fits against FAISS's exact search, alternating in one process.

``bench_fit.make_problem(n, 0)`` (d = 384, 5,000 training and 1,000 validation queries)
for each ``--n``; each repeat times, in turn, the floor (``IndexFlatIP.search`` of the
validation queries at top-10, and at each fit's own k: NudgeN top-1, NudgeM top-2), the
bare matrix product the floor cannot avoid (numpy ``queries @ corpus.T`` in 16k-row
chunks), and ``NudgeN`` / ``NudgeM`` fits with their defaults. torch, FAISS and every
BLAS pool are pinned to the same thread count (``benchmarks.machine.pin_threads``).
Alternating keeps a disturbed moment from falling on one case only; ratios use each
case's fastest repeat. Prints a table and merges the runs into
``benchmarks/results/fit-vs-floor.json`` (a run replaces the stored run of its n; each
run records its command, date, machine, versions and threads).

    python benchmarks/bench_fit_vs_floor.py --n 100000 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fit.problem import Problem, fit_k, make_problem
from benchmarks.machine import pin_threads, record
from benchmarks.pages.floor import floor_at
from nudge_integrations import NudgeM, NudgeN

RESULTS = Path(__file__).resolve().parent / "results" / "fit-vs-floor.json"
GEMM_ROWS = 16384
FITS = {"NudgeN fit": "N", "NudgeM fit": "M"}


def cases(p: Problem) -> dict[str, Callable[[], object]]:
    """The timed calls for one problem, in the order they alternate."""
    index = faiss.IndexFlatIP(p.corpus.shape[1])
    index.add(p.corpus)
    out = np.empty((p.val_q.shape[0], GEMM_ROWS), dtype=np.float32)

    def gemm() -> None:
        for start in range(0, p.corpus.shape[0], GEMM_ROWS):
            block = p.corpus[start : start + GEMM_ROWS]
            np.matmul(p.val_q, block.T, out=out[:, : block.shape[0]])

    def fit(cls: type) -> Callable[[], object]:
        return lambda: cls(device="cpu").fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)

    def search(k: int) -> Callable[[], object]:
        return lambda: index.search(p.val_q, k)

    floors = {floor_at(k): search(k) for k in (10, *sorted({fit_k(v) for v in FITS.values()}))}
    return {
        **floors,
        "bare matrix product": gemm,
        "NudgeN fit": fit(NudgeN),
        "NudgeM fit": fit(NudgeM),
    }


def measure(n: int, repeats: int, run: dict[str, Any]) -> dict[str, Any]:
    """All cases at size ``n``, alternating ``repeats`` times; the stored run."""
    start = time.perf_counter()
    p = make_problem(n, 0)
    timed = cases(p)
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(repeats):
        for name, fn in timed.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    floor = min(times[floor_at(10)])
    ks = {fit: fit_k(v) for fit, v in FITS.items()}
    print(f"n = {n:,}")
    for name, got in times.items():
        print(
            f"  {name:22s} best {min(got):6.3f} s  {min(got) / floor:5.2f}x floor   "
            + " ".join(f"{t:.3f}" for t in got)
        )
    return {
        "n": n,
        "seconds": times,
        "best_over_floor": {name: min(got) / floor for name, got in times.items()},
        "fit_k": ks,
        "best_over_floor_at_fit_k": {
            fit: min(times[fit]) / min(times[floor_at(k)]) for fit, k in ks.items()
        },
        "run": run,
        "loadavg_end": list(os.getloadavg()),
        "elapsed_s": time.perf_counter() - start,
    }


def merge(path: Path, new: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored file with the runs of the same n replaced (other sizes kept as they are)."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    sizes = {r["n"] for r in new}
    kept = [r for r in data.get("runs", []) if r["n"] not in sizes]
    data["runs"] = sorted(kept + new, key=lambda r: r["n"])
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=RESULTS, help="results file (merged)")
    args = ap.parse_args()
    pin_threads()
    run = record()
    done = [measure(n, args.repeats, run) for n in args.n]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(merge(args.json, done), indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
