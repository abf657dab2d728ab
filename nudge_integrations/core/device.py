"""Pick the torch device a fit or search runs on (float32 everywhere)."""

from __future__ import annotations

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
