"""The nudge marker in a record's metadata: kept out of what users see, set and removed
without touching the metadata object a user may share with the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nudge_integrations.stores.base import MARKER


def without_marker(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's metadata as the user wrote it: without the nudge ledger marker."""
    return {k: v for k, v in (meta or {}).items() if k != MARKER}


def with_marker(meta: Mapping[str, Any] | None, value: str | None) -> dict[str, Any]:
    """A copy of ``meta`` with the ledger marker set to ``value`` (None: removed)."""
    out = without_marker(meta)
    if value is not None:
        out[MARKER] = value
    return out
