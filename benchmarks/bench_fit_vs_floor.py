"""In-memory fits against FAISS's exact search, alternating in one process.

``bench_fit.make_problem(n, 0)`` (d = 384, 5,000 training and 1,000 validation queries)
for each ``--n``; each repeat times, in turn, the floor (``IndexFlatIP.search`` of the
validation queries, top-10, ``faiss.omp_set_num_threads`` = torch's threads), the bare
matrix product the floor cannot avoid (numpy ``queries @ corpus.T`` in 16k-row chunks),
and ``NudgeN`` / ``NudgeM`` fits with their defaults. Alternating keeps a disturbed moment
from falling on one case only; ratios use each case's fastest repeat. Prints a table and
writes ``benchmarks/results/fit-vs-floor.json`` with the machine's facts.

    python benchmarks/bench_fit_vs_floor.py --n 100000 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import Problem, make_problem
from machine import machine

from nudge_integrations import NudgeM, NudgeN

RESULTS = Path(__file__).resolve().parent / "results" / "fit-vs-floor.json"
GEMM_ROWS = 16384


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

    return {
        "FAISS floor": lambda: index.search(p.val_q, 10),
        "bare matrix product": gemm,
        "NudgeN fit": fit(NudgeN),
        "NudgeM fit": fit(NudgeM),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    faiss.omp_set_num_threads(torch.get_num_threads())
    runs = []
    for n in args.n:
        p = make_problem(n, 0)
        timed = cases(p)
        times: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(args.repeats):
            for name, fn in timed.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        floor = min(times["FAISS floor"])
        print(f"n = {n:,}")
        for name, got in times.items():
            print(
                f"  {name:22s} best {min(got):6.3f} s  {min(got) / floor:5.2f}x floor   "
                + " ".join(f"{t:.3f}" for t in got)
            )
        runs.append(
            {
                "n": n,
                "seconds": times,
                "best_over_floor": {name: min(got) / floor for name, got in times.items()},
            }
        )
        del p, timed
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "python benchmarks/bench_fit_vs_floor.py " + " ".join(sys.argv[1:]),
                "machine": machine(),
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "runs": runs,
            },
            indent=1,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
