"""The machine a benchmark ran on, as recorded beside its results."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python, torch and its thread count, the platform."""
    import torch

    cpu = platform.processor() or "unknown"
    mem = 0.0
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
        with open("/proc/meminfo") as fh:
            kib = next((int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal")), 0)
            mem = kib / 2**20
    except OSError:  # not Linux: what platform says
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "gpu": "none" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
