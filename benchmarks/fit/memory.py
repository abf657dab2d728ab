"""Resident memory of this process: now, its peak, and the peak within a window."""

from __future__ import annotations

import contextlib
import gc
import os
import resource
from collections.abc import Iterator
from typing import Any

GB = 1024**3


def current_rss() -> int:
    """Resident set size of this process now, in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def max_rss() -> int:
    """``ru_maxrss`` of this process (peak resident set size so far), in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_hwm() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so a window's peak can be read after it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def read_hwm() -> int | None:
    """VmHWM (peak RSS since the last :func:`reset_hwm`), in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


@contextlib.contextmanager
def peak_window(out: dict[str, Any]) -> Iterator[None]:
    """Record RSS before a block and its peak RSS during it (None if unsupported)."""
    gc.collect()
    before = current_rss()
    ok = reset_hwm()
    try:
        yield
    finally:
        hwm = read_hwm() if ok else None
        out["rss_before_gb"] = before / GB
        out["peak_gb"] = None if hwm is None else hwm / GB
        out["peak_growth_gb"] = None if hwm is None else (hwm - before) / GB
