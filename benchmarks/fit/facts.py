"""The machine facts ``fit-<n>.json`` has always carried under ``"machine"`` (the page reads
them); the fuller record of versions and threads is ``benchmarks.machine.record``."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import torch


def machine_facts() -> dict[str, Any]:
    """CPU, cores, RAM, Python, numpy, torch and its threads, our and nudge-ft's versions."""
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        import nudge_integrations

        ours_version = nudge_integrations.__version__
    except AttributeError:
        ours_version = "unknown"
    try:
        ref_version = version("nudge-ft")
    except PackageNotFoundError:
        ref_version = "not installed"
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)),
        "ram_gb": mem_kb / 1024**2,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "nudge_integrations": ours_version,
        "nudge_ft": ref_version,
        "platform": platform.platform(),
    }
