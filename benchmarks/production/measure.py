"""Timing, memory and where a lifecycle call spends its time, measured from outside.

:func:`phase` times a block (wall seconds, the share of the machine's CPU other
processes used meanwhile, peak RSS above the RSS before it). :class:`Breakdown` wraps a
writer class's one-request methods (``_read``, ``_write``, ``_read_markers``,
``_write_markers``, a store's combined ``_write_together``, timed as ``write_marked``),
``Bound.texts`` and the ledger's durable file writes and text hashes with timers, without
editing the package.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fit.memory import GB, current_rss, max_rss, read_hwm, reset_hwm
from fit.timing import busy_cpu_s, own_cpu_s

#: The report's name of a writer request where it is not the method's: the combined
#: vector-and-marker request keeps the name its column has had.
LABELS = {"_write_together": "write_marked"}


@contextlib.contextmanager
def phase(out: dict[str, Any], name: str) -> Iterator[None]:
    """Time the block into ``out[name]``: seconds, others' CPU share, peak RSS growth."""
    gc.collect()
    before = current_rss()
    hwm_ok = reset_hwm()
    busy0, own0, t0 = busy_cpu_s(), own_cpu_s(), time.perf_counter()
    try:
        yield
    finally:
        wall = time.perf_counter() - t0
        others = max(0.0, (busy_cpu_s() - busy0) - (own_cpu_s() - own0))
        hwm = read_hwm() if hwm_ok else None
        out[name] = {
            "seconds": round(wall, 3),
            "others_cpu_share": round(others / (wall * (os.cpu_count() or 1)), 3),
            "rss_before_gb": round(before / GB, 3),
            "peak_growth_gb": None if hwm is None else round((hwm - before) / GB, 3),
        }


def peak_rss_gb() -> float:
    """This process's RSS high-water mark since it started (ru_maxrss)."""
    return round(max_rss() / GB, 3)


class Breakdown:
    """Seconds and calls in a writer class's requests, text reads, ledger file writes and
    text hashes, while installed (class attributes wrapped; ``remove`` puts them back)."""

    STORE = ("_read", "_write", "_read_markers", "_write_markers", "_write_together", "all_ids")

    def __init__(self, writer_class: type) -> None:
        from nudge_integrations.stores import binding, ledger
        from nudge_integrations.stores.base import BatchedWriter, MarkedWriter

        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        #: Store requests in progress: one made inside another (a combined write passing
        #: the rest on to the plain ones) is timed as part of the outer one only.
        self.depth = [0]
        self._undo: list[Callable[[], None]] = []
        # every writer class of the store's module that defines a request itself: a store
        # may be bound to one of several classes (Qdrant local mode: with or without its
        # in-place scan), and a class inheriting a request runs its parent's, timed once
        module = sys.modules[writer_class.__module__]
        classes = {c for c in vars(module).values() if isinstance(c, type)} | {writer_class}
        for cls in classes:
            if not issubclass(cls, BatchedWriter) or cls in (BatchedWriter, MarkedWriter):
                continue
            for name in self.STORE:
                if name in vars(cls):
                    self._patch(cls, name, LABELS.get(name, name.lstrip("_")))
        self._patch(binding.Bound, "texts", "read_texts")
        self._patch(ledger, "_atomic_write", "ledger_files")
        self._patch(ledger, "_atomic_npy", "ledger_files")
        original = ledger.text_hash
        for module in list(sys.modules.values()):  # every module that imported text_hash
            own = module.__name__.startswith("nudge_integrations")
            if own and getattr(module, "text_hash", None) is original:
                self._patch(module, "text_hash", "text_hash")

    def _patch(self, owner: Any, attr: str, label: str) -> None:
        real = owner.__dict__[attr] if attr in getattr(owner, "__dict__", {}) else None
        fn = getattr(owner, attr)
        seconds, calls = self.seconds, self.calls

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t0
                calls[label] = calls.get(label, 0) + 1

        if isinstance(owner, type):
            unbound = owner.__dict__.get(attr)
            base = getattr(owner, attr)

            depth = self.depth

            def method(self_: Any, *args: Any, **kwargs: Any) -> Any:
                if depth[0]:
                    return base(self_, *args, **kwargs)
                depth[0] += 1
                t0 = time.perf_counter()
                try:
                    return base(self_, *args, **kwargs)
                finally:
                    depth[0] -= 1
                    seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t0
                    calls[label] = calls.get(label, 0) + 1

            setattr(owner, attr, method)
            if unbound is None:
                self._undo.append(lambda: delattr(owner, attr))
            else:
                self._undo.append(lambda: setattr(owner, attr, unbound))
            return
        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, real if real is not None else fn))

    def take(self, total: float) -> dict[str, Any]:
        """Seconds per part (nested calls are not double counted: hashes and ledger
        writes happen outside the store's requests), the rest, and call counts."""
        parts = {k: round(v, 3) for k, v in sorted(self.seconds.items())}
        out = {
            "seconds": parts,
            "calls": dict(sorted(self.calls.items())),
            "rest_s": round(total - sum(self.seconds.values()), 3),
        }
        self.seconds.clear()
        self.calls.clear()
        return out

    def remove(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
