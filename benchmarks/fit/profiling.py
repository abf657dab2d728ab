"""Where a fit's time goes: cumulative seconds of its main stages in one cProfile'd fit."""

from __future__ import annotations

import cProfile
import pstats
from typing import Any

from benchmarks.fit.problem import Problem, fit_ours

#: Functions whose cumulative time explains a fit (file suffix, function name, label).
STAGES: tuple[tuple[str, str, str], ...] = (
    ("validation.py", "check_finite_nonzero", "input checks (finite / non-zero rows)"),
    ("fit.py", "_geometry", "pull g and touched-row geometry"),
    ("search.py", "topk_scan", "untouched competitors: one top-k pass over the corpus"),
    ("ids.py", "as_relevance", "validation relevance table"),
    ("gamma.py", "grid_search", "gamma grid scored on the |val| x |T| block"),
    ("gamma.py", "m_intervals", "NUDGE-M hit@1 intervals"),
    ("gamma.py", "most_covered_point", "NUDGE-M interval sweep"),
    ("fit.py", "fit", "whole fit"),
)
SCAN = STAGES[2][2]
WHOLE = STAGES[-1][2]


def profile_fit(variant: str, p: Problem) -> dict[str, float]:
    """Cumulative seconds of the main stages of one (profiled, so slightly slower) fit."""
    prof = cProfile.Profile()
    prof.enable()
    fit_ours(variant, p)
    prof.disable()
    stats = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    stages: dict[str, float] = {}
    for (filename, _, func), (_, _, _, cumtime, _) in raw.items():
        for suffix, name, label in STAGES:
            if func == name and filename.endswith(suffix) and "nudge_integrations" in filename:
                stages[label] = stages.get(label, 0.0) + float(cumtime)
    return stages
