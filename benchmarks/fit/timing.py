"""Timing on a shared machine: each run records other processes' CPU use, and only clean
runs (others below ``CLEAN_SHARE`` of the CPU) count."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CLEAN_SHARE = 0.10  # a timed run is clean when other processes used < 10% of the CPU

#: Clock ticks of other-process CPU ignored per timed run: /proc/stat and os.times() count
#: in whole ticks, so a sub-second run could otherwise look disturbed by rounding alone.
_TICK_SLACK = 3


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def busy_cpu_s() -> float:
    """CPU seconds all processes on the machine have spent busy (from /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds this process and its waited-for children have used."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Timing:
    seconds: list[float]
    others_cpu_share: list[float]  # other processes' CPU use during each call / all cores

    @property
    def clean(self) -> list[float]:
        """Times of the runs during which other processes stayed below ``CLEAN_SHARE``."""
        pairs = zip(self.seconds, self.others_cpu_share, strict=True)
        return [t for t, share in pairs if share < CLEAN_SHARE]

    @property
    def value(self) -> float:
        """Median of the clean runs, or of all runs when none was clean."""
        return median(self.clean or self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.value,
            "n_clean": len(self.clean),
            "n_runs": len(self.seconds),
            "min": min(self.seconds),
            "all": self.seconds,
            "others_cpu_share": self.others_cpu_share,
        }


def timed(
    fn: Callable[[], Any],
    repeats: int,
    *,
    max_runs: int | None = None,
    max_wait: float = 0.0,
    retry_below_s: float = float("inf"),
) -> tuple[Timing, Any]:
    """Time calls of ``fn`` until ``repeats`` clean runs (at most ``max_runs`` calls).

    Each call also records what share of the machine's CPU other processes used during
    it: a busy neighbour slows torch's thread pool out of proportion, so a run counts as
    clean only below ``CLEAN_SHARE``. After a disturbed run the machine is given up to
    ``max_wait`` seconds to go quiet, and a disturbed run longer than ``retry_below_s``
    is not repeated. Returns the timing and the last call's result.
    """
    timing = Timing([], [])
    result: Any = None
    ncpu = os.cpu_count() or 1
    limit = max(repeats, max_runs or repeats)
    while len(timing.clean) < repeats and len(timing.seconds) < limit:
        if timing.seconds and timing.others_cpu_share[-1] >= CLEAN_SHARE:
            if timing.seconds[-1] > retry_below_s:
                break
            wait_for_quiet(max_wait)
        gc.collect()
        busy0, own0 = busy_cpu_s(), own_cpu_s()
        t0 = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - t0
        others = (busy_cpu_s() - busy0) - (own_cpu_s() - own0)
        others -= _TICK_SLACK / os.sysconf("SC_CLK_TCK")  # both counters tick at 10 ms
        timing.seconds.append(wall)
        timing.others_cpu_share.append(max(0.0, others) / (wall * ncpu))
    return timing, result


def wait_for_quiet(max_wait_s: float, threshold: float = 0.1) -> float:
    """Wait (up to ``max_wait_s``) until other processes use < ``threshold`` of the CPU.

    Returns the last measured share (over a 2 s sample).
    """
    ncpu = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait_s
    while True:
        busy0, own0 = busy_cpu_s(), own_cpu_s()
        time.sleep(2.0)
        share = max(0.0, (busy_cpu_s() - busy0) - (own_cpu_s() - own0)) / (2.0 * ncpu)
        if share < threshold or time.monotonic() >= deadline:
            return share
        log(f"other processes use {share:.0%} of the CPU; waiting for a quiet machine")
        time.sleep(10.0)
