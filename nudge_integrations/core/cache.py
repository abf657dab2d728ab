"""Where the package keeps what it may reuse across runs (embeddings, datasets, ledgers)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$NUDGE_CACHE_DIR`` or ``~/.cache/nudge-integrations``."""
    env = os.environ.get("NUDGE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nudge-integrations"
