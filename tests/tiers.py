"""The suite's two tiers (docs/testing.md): parametrized cases that belong to the slow one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

#: Stores behind a server or another process (a ``chroma run`` server, milvus-lite's
#: server, PostgreSQL): slow in the adapters' per-store tests, while test_every_store and
#: each store's own writer tests keep every one of them in the fast tier.
SERVER_STORES = ("chroma-server", "milvus", "pgvector")


def slow_for(values: Iterable[Any], slow: Iterable[str] = SERVER_STORES) -> list[Any]:
    """``values`` for ``parametrize``, those whose store (a tuple's first item) is in
    ``slow`` marked slow."""
    slow = set(slow)
    out: list[Any] = []
    for value in values:
        kind = value[0] if isinstance(value, tuple) else value
        if kind not in slow:
            out.append(value)
        elif isinstance(value, tuple):
            out.append(pytest.param(*value, marks=pytest.mark.slow))
        else:
            out.append(pytest.param(value, marks=pytest.mark.slow))
    return out
