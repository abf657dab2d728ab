"""The machine, versions and thread counts a benchmark ran with, recorded beside its results.

``record(...)`` is what every results file carries under ``"run"``: the command, the date,
the machine, the versions of everything timed and the thread count of every pool that can
run in parallel (torch, FAISS's OpenMP, numpy's BLAS and any other BLAS or OpenMP library
loaded, read through threadpoolctl). ``pin_threads()`` fixes those counts before a timed
section, so two runs on one machine compare like for like.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

#: Versions recorded in every results file: the package and what every fit runs on.
CORE_PACKAGES = ("nudge-integrations", "numpy", "torch", "faiss-cpu", "threadpoolctl")
#: Environment variables that set BLAS and OpenMP thread counts at import.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUDGE_BENCH_THREADS")
ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python, torch and its thread count, numpy, the platform."""
    import numpy as np
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
        "affinity_cores": usable_cores(),
        "memory_gib": round(mem, 1),
        "gpu": "none" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def blas() -> dict[str, Any]:
    """The BLAS numpy was built against, from ``numpy.show_config``."""
    import numpy as np

    show: Any = np.show_config
    try:
        config: dict[str, Any] = show(mode="dicts") or {}
    except TypeError:  # numpy < 1.26 prints only
        return {"name": "unknown (numpy.show_config has no mode='dicts')"}
    found: dict[str, Any] = config.get("Build Dependencies", {}).get("blas", {})
    keys = ("name", "version", "openblas configuration")
    return {k: found[k] for k in keys if k in found}


def thread_pools() -> list[dict[str, Any]] | str:
    """Every BLAS and OpenMP library loaded in this process and its thread count."""
    try:
        import threadpoolctl
    except ImportError:
        return "not recorded: threadpoolctl is not installed"
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer")
    return [
        {**{k: info.get(k) for k in keys}, "library": Path(info.get("filepath") or "").name}
        for info in threadpoolctl.threadpool_info()
    ]


def threads() -> dict[str, Any]:
    """Thread counts of torch, FAISS (when loaded), every BLAS/OpenMP pool and the env."""
    import torch

    out: dict[str, Any] = {
        "torch": torch.get_num_threads(),
        "torch_interop": torch.get_num_interop_threads(),
    }
    if "faiss" in sys.modules:  # only when the benchmark uses it: importing loads its pools
        out["faiss_omp"] = sys.modules["faiss"].omp_get_max_threads()
    out["pools"] = thread_pools()
    out["env"] = {k: os.environ[k] for k in THREAD_ENV if k in os.environ}
    return out


def pin_threads(n: int | None = None) -> int:
    """Pin torch, FAISS and every loaded BLAS/OpenMP pool to ``n`` threads; returns ``n``.

    ``n`` defaults to ``NUDGE_BENCH_THREADS`` or the usable cores (what torch and OpenBLAS
    pick on their own), so the count is the same in every timed section and is recorded.
    Call it after importing numpy, torch and FAISS: threadpoolctl reaches loaded libraries.
    """
    import torch

    count = n or int(os.environ.get("NUDGE_BENCH_THREADS", "0")) or usable_cores()
    torch.set_num_threads(count)
    if "faiss" in sys.modules:
        sys.modules["faiss"].omp_set_num_threads(count)
    try:
        import threadpoolctl
    except ImportError:
        return count
    threadpoolctl.threadpool_limits(limits=count)  # stays in force: not used as a context
    return count


def versions(packages: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of the core packages and of ``packages`` (store clients, ...)."""
    found: dict[str, str] = {}
    for name in dict.fromkeys([*CORE_PACKAGES, *packages]):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def command(argv: list[str] | None = None) -> str:
    """The command line that ran this process, as typed from the project root."""
    args = sys.argv[1:] if argv is None else argv
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        head = f"python -m {spec.name.removesuffix('.__main__')}"
    else:
        script = Path(sys.argv[0]).resolve()
        try:
            head = f"python {script.relative_to(ROOT)}"
        except ValueError:
            head = f"python {script}"
    return " ".join([head, *(shlex.quote(a) for a in args)])


def now_utc() -> str:
    """The date and time now, UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def record(cmd: str | None = None, packages: Iterable[str] = ()) -> dict[str, Any]:
    """What a results file records about its run: command, date, machine, versions, threads."""
    return {
        "command": cmd if cmd is not None else command(),
        "date_utc": now_utc(),
        "machine": machine(),
        "blas": blas(),
        "threads": threads(),
        "versions": versions(packages),
        "loadavg": list(os.getloadavg()),
    }
