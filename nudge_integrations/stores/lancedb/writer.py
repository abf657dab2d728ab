"""A LanceDB table (embedded, a local folder): vectors overwritten by id with
``merge_insert``, every other column kept; reads by id through ``IN (...)`` filters.

LanceDB keeps no metric on a table: a query ranks by the metric its caller passes, else
by that of the vector column's index, else by ``l2``. Neither framework passes one, so
:attr:`LanceDBWriter.similarity` is the index's metric (``l2`` without an index). LanceDB
ranks by ``l2`` again once its index covers no row (every row rewritten since indexing),
so after a write that leaves it so, the writer adds the rows to the index (pylance's
``optimize_indices``).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.compat.clients import lancedb_uri
from nudge_integrations.core.errors import DuplicateIdError, NudgeError, ShapeError
from nudge_integrations.stores.base import BatchedWriter, Limits, Location, batches

#: Ids per read: one ``IN (...)`` filter. LanceDB parses a filter as SQL text (DataFusion)
#: and tests it against every row it scans, so each request scans the table: fewer,
#: larger lists are faster. Measured at 200k rows (lancedb 0.40, 2 cores): 30,000 ids in
#: 1,000-id filters 0.69 s, in 5,000-id filters 0.48 s, in one filter 0.42 s; 8,192
#: quoted ids are a few hundred kB of filter.
FILTER_IDS = 8192

#: Vector bytes per write: LanceDB sets no limit on a ``merge_insert``, but each is one
#: commit (a new table version and a join on the id column), so fewer, larger ones are
#: faster; 64 MiB of float32 bounds what one request holds in memory (43,690 384-d rows).
WRITE_BYTES = 64 * 1024 * 1024

_METRICS = {"dot": "dot", "cosine": "cosine", "l2": "l2"}


def lancedb_limits(dim: int) -> Limits:
    """Ids per ``IN`` filter, and rows of ``dim`` float32 per ``merge_insert``."""
    return Limits(read=FILTER_IDS, write=max(1, WRITE_BYTES // (4 * max(1, dim))))


def _ident(column: str) -> str:
    """A column name quoted for a LanceDB filter."""
    return "`" + column.replace("`", "``") + "`"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def id_filter(column: str, ids: Sequence[str]) -> str:
    """A LanceDB filter for rows whose ``column`` is one of ``ids``."""
    return f"{_ident(column)} IN ({', '.join(map(_literal, ids))})"


def _refuse_duplicates(ids: Sequence[str], table: str) -> None:
    counts = Counter(ids)
    twice = next((i for i, n in counts.items() if n > 1), None)
    if twice is not None:
        raise DuplicateIdError(
            f"id {twice!r} is on {counts[twice]} rows of the LanceDB table {table!r} (LanceDB "
            "does not enforce unique ids; a re-add with mode='append' repeats them): delete "
            "the duplicate rows first"
        )


class LanceDBWriter(BatchedWriter):
    """A LanceDB table: ids in ``id_column`` (strings), float32 vectors in ``vector_column``.

    ``metric`` names what queries rank by when they pass one (``"dot"``, ``"cosine"``,
    ``"l2"``); by default it is read from the table's vector index.
    """

    #: Searches bypass any vector index: a flat scan, exact.
    exact = True
    #: Each search scans the table: a fit's many queries stream it once instead.
    search_scans = True

    def __init__(
        self,
        table: Any,
        *,
        id_column: str = "id",
        vector_column: str = "vector",
        metric: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        import pyarrow as pa

        self.table = table
        self.id_column = id_column
        self.vector_column = vector_column
        schema = table.schema
        name = getattr(table, "name", "?")
        for column, what in ((id_column, "ids"), (vector_column, "vectors")):
            if column not in schema.names:
                raise NudgeError(
                    f"the LanceDB table {name!r} has no column {column!r} for its {what} "
                    f"(columns: {', '.join(schema.names)}): name the right one"
                )
        id_type = schema.field(id_column).type
        if not (pa.types.is_string(id_type) or pa.types.is_large_string(id_type)):
            raise NudgeError(
                f"the LanceDB table {name!r} keeps {id_type} ids in {id_column!r}; only string "
                "ids are supported: store the ids as strings"
            )
        vtype = schema.field(vector_column).type
        if not (pa.types.is_fixed_size_list(vtype) and pa.types.is_float32(vtype.value_type)):
            raise NudgeError(
                f"the LanceDB column {vector_column!r} of {name!r} holds {vtype}, not float32 "
                "vectors (fixed_size_list<float>): only float32 vectors can be written back "
                "exactly; rebuild the table with float32 vectors"
            )
        self._id_type = id_type
        self._vector_type = vtype
        self.dim: int = vtype.list_size
        self.limits = limits or lancedb_limits(self.dim)
        self.similarity: str | None = (
            _METRICS.get(metric.lower()) if metric else self._index_metric()
        )

    # ------------------------------------------------------------------ the table
    def _vector_indexes(self) -> list[tuple[str, Any]]:
        """(name, statistics) of the vector indexes on the vector column."""
        found = []
        for config in self.table.list_indices():
            if list(config.columns) != [self.vector_column]:
                continue
            stats = self.table.index_stats(config.name)
            if stats is not None and stats.distance_type:
                found.append((str(config.name), stats))
        return found

    def _index_metric(self) -> str | None:
        """What a query that names no metric ranks by."""
        for _, stats in self._vector_indexes():
            if not stats.num_indexed_rows:
                return "l2"  # an index that covers no row is not used, nor is its metric
            return _METRICS.get(str(stats.distance_type).lower())
        return "l2"

    def _refresh(self) -> None:
        """Point the handle at the latest version (another handle or process may have
        written since it was opened)."""
        latest = getattr(self.table, "checkout_latest", None)  # absent on remote tables
        if latest is not None:
            latest()

    def location(self) -> Location | None:
        """The database folder (the ledger lies beside it), or its URI for remote ones."""
        uri = lancedb_uri(self.table)
        if not uri:
            return None
        name = str(self.table.name)
        if uri.startswith("file://"):
            uri = uri[len("file://") :]
        if "://" in uri:
            return ("lancedb", uri, name)
        return ("path", uri, name)

    def rows(self, ids: Sequence[str], columns: Sequence[str]) -> Any:
        """A pyarrow table of ``columns`` (with the id column first) for these ids, one
        filter per :attr:`limits` ``.read`` ids (None when ``ids`` is empty)."""
        import pyarrow as pa

        wanted = [self.id_column, *[c for c in columns if c != self.id_column]]
        parts = [
            self.table.search().where(id_filter(self.id_column, chunk)).select(wanted).to_arrow()
            for chunk in batches(list(ids), self.limits.read)
        ]
        return pa.concat_tables(parts) if parts else None

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, ``batch`` rows at a time."""
        import pyarrow as pa

        self._refresh()
        columns = [self.id_column, self.vector_column]
        for part in self.table.search().select(columns).to_batches(max(1, batch)):
            got = self.vectors_of(pa.Table.from_batches([part]))
            if got:
                yield list(got), np.stack(list(got.values()))

    # ------------------------------------------------------------------ StoreWriter
    def all_ids(self) -> list[str]:
        self._refresh()
        got = self.table.search().select([self.id_column]).to_arrow()
        ids = [str(i) for i in got.column(self.id_column).to_pylist() if i is not None]
        _refuse_duplicates(ids, self.table.name)
        return ids

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        self._refresh()
        got = self.rows(ids, [self.vector_column])
        return {} if got is None else self.vectors_of(got)

    def count(self) -> int:
        self._refresh()
        return int(self.table.count_rows())

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by an exact cosine scan."""
        return self.nearest_outside(queries, limit, set())

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query by an exact cosine scan (the vector index bypassed), ``skip``
        left out by a filter applied before the search."""
        self._refresh()
        where = f"NOT ({id_filter(self.id_column, sorted(skip))})" if skip else None
        out = []
        for q in np.asarray(queries, np.float32):
            search = (
                self.table.search(q.tolist(), vector_column_name=self.vector_column)
                .distance_type("cosine")
                .bypass_vector_index()
                .select([self.id_column])
                .limit(max(1, limit))
            )
            if where is not None:
                search = search.where(where, prefilter=True)
            got = search.to_arrow().column(self.id_column).to_pylist()
            out.append([str(i) for i in got])
        return out

    def vectors_of(self, got: Any) -> dict[str, NDArray[np.float32]]:
        """Vectors by id from a pyarrow table holding the id and vector columns."""
        keys = [str(k) for k in got.column(self.id_column).to_pylist()]
        column = got.column(self.vector_column).combine_chunks()
        out: dict[str, NDArray[np.float32]] = {}
        if column.null_count:
            for key, vec in zip(keys, column.to_pylist(), strict=True):
                if vec is not None:
                    out[key] = np.asarray(vec, dtype=np.float32)
        else:
            values = column.flatten().to_numpy(zero_copy_only=False)
            matrix = np.asarray(values, dtype=np.float32).reshape(len(keys), self.dim)
            out = {key: matrix[n].copy() for n, key in enumerate(keys)}
        if len(out) < len(keys):
            _refuse_duplicates(keys, self.table.name)
        return out

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        import pyarrow as pa

        ids = list(vectors)
        if not ids:
            return
        matrix = np.stack([np.asarray(vectors[i], dtype=np.float32).reshape(-1) for i in ids])
        if matrix.shape[1] != self.dim:
            raise ShapeError(
                f"the LanceDB column {self.vector_column!r} holds {self.dim}-d vectors, not "
                f"{matrix.shape[1]}-d ones: the table was built with another embedding model"
            )
        values = pa.array(matrix.ravel(), type=pa.float32())
        source = pa.table(
            {
                self.id_column: pa.array(ids, type=self._id_type),
                self.vector_column: pa.FixedSizeListArray.from_arrays(
                    values, type=self._vector_type
                ),
            }
        )
        self.table.merge_insert(self.id_column).when_matched_update_all().execute(source)
        self._keep_index()

    def _keep_index(self) -> None:
        """Re-index rows when no row is left in the vector index, since LanceDB then ranks
        by ``l2``, whatever the index's metric."""
        for name, stats in self._vector_indexes():
            if stats.num_indexed_rows or str(stats.distance_type).lower() == "l2":
                continue
            try:
                dataset = self.table.to_lance()
            except (ImportError, NotImplementedError, AttributeError):
                warnings.warn(
                    f"every row of the LanceDB table {self.table.name!r} was rewritten since "
                    f"its index {name!r} was built, so LanceDB now ranks by l2 instead of "
                    f"{stats.distance_type}: run table.optimize() (or install pylance and "
                    "nudge again) to index the rows",
                    stacklevel=3,
                )
                return
            dataset.optimize.optimize_indices(index_names=[name])
            self._refresh()
