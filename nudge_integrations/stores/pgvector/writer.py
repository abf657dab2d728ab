"""A PostgreSQL table with a pgvector column, through a SQLAlchemy engine.

Vectors are read exactly (``vector_send``: the stored float32 bytes) and written with one
``UPDATE`` per request in its own transaction, so a failed request leaves nothing of itself
behind. Markers go into a JSON/JSONB metadata column in place, in the same ``UPDATE`` as
the vectors they mark: :class:`PgVectorWriter` where the table has one (both frameworks'
tables do), :class:`PgVectorTableWriter` (no markers) where it has not;
:func:`pgvector_writer` picks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.base import (
    MARKER,
    BatchedWriter,
    Limits,
    Location,
    MarkedWriter,
    batches,
)

# Every request passes its ids (and a write its vectors) as ONE array parameter each
# (``= ANY(%s)``, ``unnest(%s, %s)``), with psycopg 3 and psycopg2 alike, so PostgreSQL's
# 65,535 bind parameters per statement never bind; what does is its 1 GB cap on one
# value and on a statement's text (MaxAllocSize), at pgvector's largest 'vector' (16,000
# dimensions, VECTOR_MAX_DIM).

#: Ids per read: 8,192 rows of ``vector_send`` (4 + 4 x 16,000 bytes at most) are under
#: 512 MiB even at 16,000 dimensions (12 MB at 384).
READ_IDS = 8192

#: Records per write: their vectors' text (``repr`` of each float32, at most 24 characters
#: a value with its comma) stays under 1 GB at 16,000 dimensions: 2,048 x 16,000 x 24 =
#: 786 MB (19 MB at 384).
WRITE_RECORDS = 2048


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _quote(name: str) -> str:
    """A quoted SQL identifier for statement text (``%`` doubled: the drivers'
    placeholders use it)."""
    return _ident(name).replace("%", "%%")


def _vector_text(vec: Any) -> str:
    """pgvector's text form. ``repr`` of each float32 (held exactly as a Python float) is
    within a double's rounding of it, so pgvector's ``strtof`` gives it back bit for bit."""
    row = np.asarray(vec, dtype=np.float32).ravel().tolist()
    return "[" + ",".join(map(repr, row)) + "]"


def _decode(raw: Any) -> NDArray[np.float32]:
    """A vector from ``vector_send``: int16 dimension, int16 unused, big-endian float32s."""
    return np.frombuffer(bytes(raw), dtype=">f4", offset=4).astype(np.float32)


def column_types(engine: Any, table: str, schema: str | None = None) -> dict[str, str]:
    """Column name -> type name (``vector``, ``jsonb``, ``uuid``...) without modifiers, or
    an error saying the table does not exist."""
    qualified = f"{_ident(schema)}.{_ident(table)}" if schema else _ident(table)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (qualified,),
        ).fetchall()
    if not rows:
        raise NudgeError(
            f"the table {table!r} does not exist in this database: add records to "
            "the store first, or check its table/collection name and connection"
        )
    return {str(name): str(kind).split("(")[0].rsplit(".", 1)[-1] for name, kind in rows}


Row = tuple[str, list[Any], NDArray[np.float32] | None]


class PgVectorTableWriter(BatchedWriter):
    """Vectors of one pgvector table (optionally the rows where ``scope`` column = value),
    addressed by a text id column; other columns are left as they are. No markers: for a
    table without a JSON metadata column."""

    #: Searches run with index scans off: a sequential scan, exact.
    exact = True
    #: Each search scans the table: a fit's many queries stream it once instead.
    search_scans = True

    def __init__(
        self,
        engine: Any,
        table: str,
        *,
        id_column: str,
        vector_column: str,
        schema: str | None = None,
        scope: tuple[str, str] | None = None,
        similarity: str | None = None,
        collection: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        if isinstance(engine, str):
            import sqlalchemy

            engine = sqlalchemy.create_engine(engine)
        self.engine = engine
        self.similarity = similarity
        self.limits = limits or Limits(read=READ_IDS, write=WRITE_RECORDS)
        self.table_name = table
        self.collection = collection or (f"{schema}.{table}" if schema else table)
        self.table = f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)
        self.id = _quote(id_column)
        self.vector = _quote(vector_column)
        self.columns = column_types(engine, table, schema)
        vector_type = self.columns.get(vector_column, "")
        if vector_type != "vector":
            raise NudgeError(
                f"column {vector_column!r} of {table!r} is {vector_type or 'missing'}, not a "
                "pgvector 'vector': only float32 'vector' columns are updated in place "
                "(halfvec would round the nudged vectors to float16); rebuild the table with "
                "a vector column"
            )
        self._scope = ""
        self._scope_args: tuple[Any, ...] = ()
        if scope is not None:
            column, value = scope
            kind = self.columns.get(column, "text")
            self._scope = f" AND t.{_quote(column)} = CAST(%s AS {kind})"
            self._scope_args = (value,)

    # ------------------------------------------------------------------ SQL plumbing
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.exec_driver_sql(sql, tuple(args)).fetchall())

    def _update(self, sql: str, args: Sequence[Any], *, rows: int = 0) -> None:
        """One statement in its own transaction, rolled back on an error or when it
        changed fewer than ``rows`` rows."""
        with self.engine.begin() as conn:  # committed on success, rolled back on error
            changed = int(conn.exec_driver_sql(sql, tuple(args)).rowcount)
            if changed < rows:
                raise NudgeError(
                    f"{rows - changed} of {rows} records to write are no longer in "
                    f"{self.table}: nothing of this batch was written (another process "
                    "deleted records mid-swap); check status() and finish or roll back"
                )

    # ------------------------------------------------------------------ StoreWriter
    def all_ids(self) -> list[str]:
        rows = self._query(
            f"SELECT DISTINCT t.{self.id} FROM {self.table} t "
            f"WHERE t.{self.id} IS NOT NULL{self._scope} ORDER BY 1",
            self._scope_args,
        )
        return [str(r[0]) for r in rows]

    def location(self) -> Location:
        """The server, port and database (a unix socket's folder stands for the host)."""
        url = self.engine.url
        host = url.host or url.query.get("host") or os.environ.get("PGHOST") or "localhost"
        if isinstance(host, tuple):  # several hosts: the first names the server
            host = host[0]
        port = url.port or url.query.get("port") or os.environ.get("PGPORT") or 5432
        if isinstance(port, tuple):
            port = port[0]
        return ("postgres", f"{host}-{port}-{url.database or ''}", self.collection)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        if not ids:
            return {}
        rows = self._query(
            f"SELECT t.{self.id}, vector_send(t.{self.vector}) FROM {self.table} t "
            f"WHERE t.{self.id} = ANY(%s) AND t.{self.vector} IS NOT NULL{self._scope}",
            (ids, *self._scope_args),
        )
        return {str(i): _decode(raw) for i, raw in rows}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        """One ``UPDATE`` in one transaction: all of the request is written, or none."""
        if not vectors:
            return
        ids = list(vectors)
        self._update(
            f"UPDATE {self.table} t SET {self.vector} = CAST(d.v AS vector) "
            "FROM unnest(CAST(%s AS text[]), CAST(%s AS text[])) AS d(id, v) "
            f"WHERE t.{self.id} = d.id{self._scope}",
            (ids, [_vector_text(vectors[i]) for i in ids], *self._scope_args),
            rows=len(set(ids)),
        )

    def count(self) -> int:
        rows = self._query(
            f"SELECT count(*) FROM {self.table} t WHERE t.{self.vector} IS NOT NULL{self._scope}",
            self._scope_args,
        )
        return int(rows[0][0])

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by exact cosine distance."""
        return self.nearest_outside(queries, limit, set())

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query by cosine distance (``<=>``) over a sequential scan, never an
        approximate index, ``skip`` left out in the query (one array parameter)."""
        sql = (
            f"SELECT t.{self.id} FROM {self.table} t WHERE t.{self.vector} IS NOT NULL "
            f"AND NOT (t.{self.id} = ANY(%s)){self._scope} "
            f"ORDER BY t.{self.vector} <=> CAST(%s AS vector) LIMIT %s"
        )
        out = []
        with self.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
            for q in np.asarray(queries, np.float32):
                args = (sorted(skip), *self._scope_args, _vector_text(q), max(1, limit))
                out.append([str(r[0]) for r in conn.exec_driver_sql(sql, args).fetchall()])
        return out

    # ------------------------------------------------------------------ for bindings
    def _select(self, columns: Sequence[str], vectors: bool) -> str:
        cols = "".join(f", t.{_quote(c)}" for c in columns)
        vec = f", vector_send(t.{self.vector})" if vectors else ""
        return f"SELECT t.{self.id}{cols}{vec} FROM {self.table} t WHERE "

    @staticmethod
    def _unpack(row: Any, width: int, vectors: bool) -> Row:
        raw = row[1 + width] if vectors else None
        return str(row[0]), list(row[1 : 1 + width]), None if raw is None else _decode(raw)

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, a page of at most ``limits.read`` at a time."""
        del batch  # pages follow the read limit
        for page in self.pages((), vectors=True):
            kept = [(i, v) for i, _, v in page if v is not None]
            if kept:
                yield [i for i, _ in kept], np.stack([v for _, v in kept])

    def pages(self, columns: Sequence[str], *, vectors: bool = False) -> Iterator[list[Row]]:
        """(id, values of ``columns``, vector or None) of every record, a page of at most
        ``limits.read`` at a time (keyset-paged by id)."""
        select, size = self._select(columns, vectors), self.limits.read
        last: str | None = None
        while True:
            after = "" if last is None else f" AND t.{self.id} > %s"
            page = self._query(
                f"{select}t.{self.id} IS NOT NULL{after}{self._scope} "
                f"ORDER BY t.{self.id} LIMIT {int(size)}",
                ([] if last is None else [last]) + list(self._scope_args),
            )
            if page:
                yield [self._unpack(r, len(columns), vectors) for r in page]
            if len(page) < size:
                return
            last = str(page[-1][0])

    def rows(
        self, columns: Sequence[str], ids: Sequence[str] | None = None, *, vectors: bool = False
    ) -> Iterator[Row]:
        """(id, values of ``columns``, vector or None) of ``ids`` (one query per
        ``limits.read`` ids), or of every record (:meth:`pages`)."""
        if ids is None:
            for page in self.pages(columns, vectors=vectors):
                yield from page
            return
        select = self._select(columns, vectors)
        for chunk in batches(list(ids), self.limits.read):
            found = self._query(
                f"{select}t.{self.id} = ANY(%s){self._scope}", (chunk, *self._scope_args)
            )
            yield from (self._unpack(r, len(columns), vectors) for r in found)


class PgVectorWriter(PgVectorTableWriter, MarkedWriter):
    """:class:`PgVectorTableWriter` with the nudge marker kept in the JSON/JSONB column
    ``metadata_column``; a record's vector and marker change go in one ``UPDATE``."""

    writes_together = True

    def __init__(
        self,
        engine: Any,
        table: str,
        *,
        id_column: str,
        vector_column: str,
        metadata_column: str | None = None,
        schema: str | None = None,
        scope: tuple[str, str] | None = None,
        similarity: str | None = None,
        collection: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(
            engine,
            table,
            id_column=id_column,
            vector_column=vector_column,
            schema=schema,
            scope=scope,
            similarity=similarity,
            collection=collection,
            limits=limits,
        )
        kind = self.columns.get(metadata_column or "", "")
        if kind not in ("json", "jsonb"):
            raise NudgeError(
                f"column {metadata_column!r} of {table!r} is {kind or 'missing'}, not json or "
                "jsonb: the nudge marker is kept in a JSON metadata column (pgvector_writer() "
                "leaves markers out for a table without one)"
            )
        self.metadata = _quote(str(metadata_column))
        self._json = kind

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = self._query(
            f"SELECT t.{self.id}, CAST(t.{self.metadata} AS jsonb) ->> CAST(%s AS text) "
            f"FROM {self.table} t "
            f"WHERE t.{self.id} = ANY(%s){self._scope}",
            (MARKER, ids, *self._scope_args),
        )
        return {str(i): str(m) for i, m in rows if m}

    def _marked(self, value: str) -> str:
        """SQL of the metadata column with the marker set to ``value`` (SQL text of a
        string: a placeholder or a column; the marker's key is one more placeholder)."""
        meta = f"CAST(t.{self.metadata} AS jsonb)"
        pair = f"jsonb_build_object(CAST(%s AS text), {value})"
        return f"CAST(COALESCE({meta}, '{{}}'::jsonb) || {pair} AS {self._json})"

    def _unmarked(self) -> str:
        """SQL of the metadata column without the marker (its key a placeholder); a NULL
        column stays NULL."""
        return f"CAST(CAST(t.{self.metadata} AS jsonb) - CAST(%s AS text) AS {self._json})"

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        if not ids:
            return
        args: tuple[str, ...]
        if value is None:
            new, args = self._unmarked(), (MARKER,)
        else:
            new, args = self._marked("CAST(%s AS text)"), (MARKER, value)
        self._update(
            f"UPDATE {self.table} t SET {self.metadata} = {new} "
            f"WHERE t.{self.id} = ANY(%s){self._scope}",
            (*args, ids, *self._scope_args),
        )

    def _write_together(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        """One ``UPDATE`` in one transaction setting each record's vector and its marker
        (set, or removed where None): all of the request is written, or none. Separate
        marker updates rewrote every marked row a second time (3.6 s of a 30k-record
        LlamaIndex swap at 200k records)."""
        if not vectors:
            return
        ids = list(vectors)
        meta = f"CASE WHEN d.m IS NULL THEN {self._unmarked()} ELSE {self._marked('d.m')} END"
        self._update(
            f"UPDATE {self.table} t SET {self.vector} = CAST(d.v AS vector), "
            f"{self.metadata} = {meta} "
            "FROM unnest(CAST(%s AS text[]), CAST(%s AS text[]), CAST(%s AS text[])) "
            f"AS d(id, v, m) WHERE t.{self.id} = d.id{self._scope}",
            (
                MARKER,
                MARKER,
                ids,
                [_vector_text(vectors[i]) for i in ids],
                [marks[i] for i in ids],
                *self._scope_args,
            ),
            rows=len(set(ids)),
        )


def pgvector_writer(
    engine: Any,
    table: str,
    *,
    id_column: str,
    vector_column: str,
    metadata_column: str | None = None,
    schema: str | None = None,
    scope: tuple[str, str] | None = None,
    similarity: str | None = None,
    collection: str | None = None,
    limits: Limits | None = None,
) -> PgVectorTableWriter:
    """A :class:`PgVectorWriter` where ``metadata_column`` is a JSON/JSONB column of the
    table, else a :class:`PgVectorTableWriter` (no markers)."""
    plain = PgVectorTableWriter(
        engine,
        table,
        id_column=id_column,
        vector_column=vector_column,
        schema=schema,
        scope=scope,
        similarity=similarity,
        collection=collection,
        limits=limits,
    )
    if plain.columns.get(metadata_column or "") not in ("json", "jsonb"):
        return plain
    return PgVectorWriter(
        plain.engine,
        table,
        id_column=id_column,
        vector_column=vector_column,
        metadata_column=metadata_column,
        schema=schema,
        scope=scope,
        similarity=similarity,
        collection=collection,
        limits=limits,
    )
