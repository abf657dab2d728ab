"""Fit-time and peak-memory benchmark of NudgeN / NudgeM against exact search and nudge-ft.

For each corpus size it builds a seeded synthetic retrieval problem (clustered unit-norm
corpus, 5,000 training and 1,000 validation queries around a shared pool of relevant
records, each record with a hidden offset that NUDGE can learn), then measures in one
process:

* the *floor*: one exact inner-product pass of the validation queries over the corpus
  (``nudge_integrations.core.search.exact_search``), at top-10 and at each fit's own k;
* ``NudgeN(device="cpu").fit`` and ``NudgeM(device="cpu").fit``, and where the time goes
  (one extra cProfile'd fit of each);
* the reference ``nudge-ft`` 0.1.2 ``NUDGEN`` / ``NUDGEM`` (when it fits the time and
  memory budget), the speed-up, and how far its output and gamma are from ours;
* in a fresh subprocess per variant, the peak RSS of our fit beyond the corpus.

It also times ours vs the reference on SciFact (MiniLM embeddings, the NUDGE paper's
split) when ``../shared/data`` holds it, with test NDCG@10.

Run from the project root::

    python benchmarks/bench_fit.py --sizes 100000 1000000 --out docs/benchmarks.md
    # quick smoke test, kept out of docs/ and benchmarks/results/:
    python benchmarks/bench_fit.py --sizes 20000 --out /tmp/smoke.md --results-dir /tmp/smoke
    # rewrite the report from the stored JSON without measuring again:
    python benchmarks/bench_fit.py --sizes 100000 1000000 --from-json

Timed runs during which other processes used >= 10% of the CPU are flagged, repeated
(after waiting up to ``--max-wait`` s for a quiet machine) and left out of the medians.
The code lives in ``benchmarks/fit/``, one module per concept; this file is its command.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit.cli import main
from benchmarks.fit.memory import GB, current_rss, peak_window
from benchmarks.fit.problem import (
    DIM,
    DOCS_PER_CENTRE,
    FLOOR_K,
    GEN_CHUNK,
    N_TRAIN,
    N_VAL,
    POOL,
    QUERY_NOISE,
    SHIFT,
    SPREAD,
    Problem,
    fit_k,
    make_problem,
)

#: What other scripts and pages name as ``bench_fit.<name>``.
__all__ = [
    "DIM",
    "DOCS_PER_CENTRE",
    "FLOOR_K",
    "GB",
    "GEN_CHUNK",
    "N_TRAIN",
    "N_VAL",
    "POOL",
    "QUERY_NOISE",
    "SHIFT",
    "SPREAD",
    "Problem",
    "current_rss",
    "fit_k",
    "make_problem",
    "peak_window",
]

if __name__ == "__main__":
    raise SystemExit(main(doc=__doc__))
