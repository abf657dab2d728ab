"""Pick the torch device a fit or search runs on (float32 everywhere)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from nudge_integrations.core.errors import NudgeError

DeviceLike = str | torch.device | None

_NAMES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "mps"`` (or a ``torch.device``) into a usable device.

    ``"auto"`` prefers CUDA, then Apple MPS, then the CPU. Asking for an accelerator that
    this machine lacks is an error rather than a silent fallback.
    """
    if isinstance(device, torch.device):
        name = device.type
        chosen = device
    else:
        name = "auto" if device is None else str(device).lower()
        base = name.split(":", 1)[0]
        if base not in _NAMES:
            raise NudgeError(
                f"unknown device {device!r}: use one of 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
            )
        if base == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            if _mps_available():
                return torch.device("mps")
            return torch.device("cpu")
        chosen = torch.device(name)
        name = base
    if name == "cuda" and not torch.cuda.is_available():
        raise NudgeError(
            "device 'cuda' was requested but CUDA is not available: use 'cpu' or 'auto'"
        )
    if name == "mps" and not _mps_available():
        raise NudgeError("device 'mps' was requested but MPS is not available: use 'cpu' or 'auto'")
    return chosen


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run torch's CPU ops inside on one thread (restored after; a no-op off the CPU).

    For a fit's elementwise work on the touched block (a few MB per op) a second thread
    cost more than it saved on the 2-core machine: measured 3.5 ms warm but 11-13 ms
    after a BLAS product or an idle moment (its spinning or sleeping workers), against
    6 ms on one thread either way. BLAS products (numpy's) keep their own threads.
    """
    before = torch.get_num_threads()
    if device.type != "cpu" or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
