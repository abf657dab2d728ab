"""In-memory fits against FAISS's exact search, alternating in one process, by chunk size.

``bench_fit.make_problem(n, 0)`` (d = 384, 5,000 training and 1,000 validation queries);
each repeat times the floor (``IndexFlatIP.search`` of the validation queries, top-10,
``faiss.omp_set_num_threads`` = torch's threads), then ``NudgeM`` and ``NudgeN`` fits with
the default chunk size and with 32k- and 64k-row chunks. Alternating keeps a disturbed
moment from falling on one case only. Prints seconds per repeat.

    python benchmarks/bench_fit_vs_floor.py --n 1000000 --repeats 2
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import make_problem

from nudge_integrations import NudgeM, NudgeN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    p = make_problem(args.n, 0)
    faiss.omp_set_num_threads(torch.get_num_threads())
    index = faiss.IndexFlatIP(p.corpus.shape[1])
    index.add(p.corpus)

    def timed(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    cases: dict[str, Callable[[], object]] = {"FAISS floor": lambda: index.search(p.val_q, 10)}
    for cls in (NudgeM, NudgeN):
        for chunk in (None, 32768, 65536):
            est = cls(device="cpu", chunk_size=chunk)
            cases[f"{cls.__name__} chunk={chunk or 'default'}"] = lambda est=est: est.fit(
                p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel
            )
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    for name, got in times.items():
        print(f"{name:28s} " + "  ".join(f"{t:.2f}" for t in got))


if __name__ == "__main__":
    main()
