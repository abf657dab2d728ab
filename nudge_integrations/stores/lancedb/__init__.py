"""LanceDB (an embedded table in a local folder), written with ``merge_insert``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nudge_integrations.stores.base import batches
from nudge_integrations.stores.lancedb.writer import (
    FILTER_IDS,
    LanceDBWriter,
    id_filter,
    lancedb_limits,
)

__all__ = ["LanceDBWriter", "id_filter", "lancedb_limits"]


# Transitional: what the adapters imported from the module this folder replaces, until
# they bind through the registry (issue 17); then this goes.
CHUNK = FILTER_IDS


def chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """``ids`` in lists of at most :data:`FILTER_IDS` (the old name of the read limit)."""
    return batches(ids, FILTER_IDS)
