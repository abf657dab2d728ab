"""The recipe store's writer: a SQLite table (``sqlite.py``) read and written by id, the
nudge marker in each record's JSON metadata, every request within deliberately tiny
limits that it enforces itself, so a single uncut call fails at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.stores.base import MARKER, Limits, Location, MarkedWriter

from .sqlite import SqliteTable

#: Ids per read and records per write. SQLite itself takes 32,766 bound variables per
#: statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32), so the real limit would be in the
#: thousands; these are declared tiny on purpose, for tests.
LIMITS = Limits(read=5, write=3)


class OverLimitError(ValueError):
    """A request larger than the store takes: a caller forgot to cut it."""


def check(what: str, ids: Sequence[str], limit: int) -> list[str]:
    """``ids`` as a list, or an error when one request would carry more than ``limit``."""
    if len(ids) > limit:
        raise OverLimitError(f"a {what} request of {len(ids)} records: this store takes {limit}")
    return list(ids)


class SqliteWriter(MarkedWriter):
    """A recipe store's table: vectors overwritten by id, text and metadata kept."""

    #: The LangChain and LlamaIndex stores rank by inner product (``SqliteTable.search``).
    similarity: str | None = "dot"

    def __init__(self, table: SqliteTable, *, limits: Limits | None = None) -> None:
        self.table = table
        self.limits = limits or LIMITS

    def all_ids(self) -> list[str]:
        return self.table.ids()

    def location(self) -> Location | None:
        """The SQLite file and table, so the ledger lies beside the file (None for an
        in-memory database, whose ledger is then named in its records' markers)."""
        if str(self.table.path) == ":memory:":
            return None
        return ("path", str(self.table.path.resolve()), self.table.name)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        rows = self.table.get(check("read", ids, self.limits.read))
        return {i: r.vector for i, r in rows.items()}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        check("write", list(vectors), self.limits.write)
        self.table.set_vectors(vectors)

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        found = self.table.metadata_values(check("marker read", ids, self.limits.read), MARKER)
        return {i: str(v) for i, v in found.items()}

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        self.table.set_metadata_value(check("marker write", ids, self.limits.write), MARKER, value)
