"""A PostgreSQL table with a pgvector column, through the store's SQLAlchemy engine.

Vectors are read exactly (``vector_send``: the stored float32 bytes) and written with one
``UPDATE`` per batch in its own transaction, so a failed batch leaves nothing of itself
behind. Markers go into the JSON/JSONB metadata column in place. The frameworks' stores
map to it in ``nudge_integrations.llama_index.stores`` (``PGVectorStore``) and
``nudge_integrations.langchain.stores`` (``PGVector``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.base import MARKER, Limits

#: (kind, place, collection), as the other writers give it.
Location = tuple[str, str, str]

#: Rows read per query when paging through a table.
PAGE = 1000


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


class PgVectorWriter:
    """Vectors of one pgvector table (optionally the rows where ``scope`` column = value),
    addressed by a text id column; other columns are left as they are."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

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
    ) -> None:
        if isinstance(engine, str):
            import sqlalchemy

            engine = sqlalchemy.create_engine(engine)
        self.engine = engine
        self.similarity = similarity
        self.collection = collection or (f"{schema}.{table}" if schema else table)
        self.table = f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)
        self.id = _quote(id_column)
        self.vector = _quote(vector_column)
        types = self._column_types(
            f"{_ident(schema)}.{_ident(table)}" if schema else _ident(table), table
        )
        vector_type = types.get(vector_column, "")
        if vector_type != "vector":
            raise NudgeError(
                f"column {vector_column!r} of {table!r} is {vector_type or 'missing'}, not a "
                "pgvector 'vector': only float32 'vector' columns are updated in place "
                "(halfvec would round the nudged vectors to float16); rebuild the table with "
                "a vector column"
            )
        self.metadata: str | None = None
        self._json = "jsonb"
        if metadata_column is not None and types.get(metadata_column) in ("json", "jsonb"):
            self.metadata = _quote(metadata_column)
            self._json = types[metadata_column]
        self._scope = ""
        self._scope_args: tuple[Any, ...] = ()
        if scope is not None:
            column, value = scope
            self._scope = f" AND t.{_quote(column)} = CAST(%s AS {types.get(column, 'text')})"
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

    def _column_types(self, qualified: str, table: str) -> dict[str, str]:
        """Column name -> type name (``vector``, ``jsonb``, ``uuid``...), without modifiers."""
        rows = self._query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (qualified,),
        )
        if not rows:
            raise NudgeError(
                f"the table {table!r} does not exist in this database: add records to "
                "the store first, or check its table/collection name and connection"
            )
        return {str(name): str(kind).split("(")[0].rsplit(".", 1)[-1] for name, kind in rows}

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

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        if not ids:
            return {}
        rows = self._query(
            f"SELECT t.{self.id}, vector_send(t.{self.vector}) FROM {self.table} t "
            f"WHERE t.{self.id} = ANY(%s) AND t.{self.vector} IS NOT NULL{self._scope}",
            (list(ids), *self._scope_args),
        )
        return {str(i): _decode(raw) for i, raw in rows}

    #: Searches run with index scans off: a sequential scan, exact.
    exact = True

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
        approximate index, ``skip`` left out in the query."""
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

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        """One ``UPDATE`` in one transaction: all of the batch is written, or none."""
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

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        if self.metadata is None or not ids:
            return {}
        rows = self._query(
            f"SELECT t.{self.id}, CAST(t.{self.metadata} AS jsonb) ->> CAST(%s AS text) "
            f"FROM {self.table} t "
            f"WHERE t.{self.id} = ANY(%s){self._scope}",
            (MARKER, list(ids), *self._scope_args),
        )
        return {str(i): str(m) for i, m in rows if m}

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        if self.metadata is None or not ids:
            return
        meta = f"CAST(t.{self.metadata} AS jsonb)"
        args: tuple[str, ...]
        if value is None:
            new, args = f"{meta} - CAST(%s AS text)", (MARKER,)
        else:
            pair = "jsonb_build_object(CAST(%s AS text), CAST(%s AS text))"
            new = f"COALESCE({meta}, '{{}}'::jsonb) || {pair}"
            args = (MARKER, value)
        self._update(
            f"UPDATE {self.table} t SET {self.metadata} = CAST({new} AS {self._json}) "
            f"WHERE t.{self.id} = ANY(%s){self._scope}",
            (*args, list(ids), *self._scope_args),
        )

    # ------------------------------------------------------------------ for adapters
    def rows(
        self, columns: Sequence[str], ids: Sequence[str] | None = None, *, vectors: bool = False
    ) -> Iterator[tuple[str, list[Any], NDArray[np.float32] | None]]:
        """(id, values of ``columns``, vector or None) of ``ids``, or of every record (paged
        by id)."""
        cols = "".join(f", t.{_quote(c)}" for c in columns)
        vec = f", vector_send(t.{self.vector})" if vectors else ""
        select = f"SELECT t.{self.id}{cols}{vec} FROM {self.table} t WHERE "

        def unpack(row: Any) -> tuple[str, list[Any], NDArray[np.float32] | None]:
            values = list(row[1 : 1 + len(columns)])
            raw = row[1 + len(columns)] if vectors else None
            return str(row[0]), values, None if raw is None else _decode(raw)

        if ids is not None:
            found = self._query(
                f"{select}t.{self.id} = ANY(%s){self._scope}", (list(ids), *self._scope_args)
            )
            yield from map(unpack, found)
            return
        last: str | None = None
        while True:
            after = "" if last is None else f" AND t.{self.id} > %s"
            page = self._query(
                f"{select}t.{self.id} IS NOT NULL{after}{self._scope} "
                f"ORDER BY t.{self.id} LIMIT {PAGE}",
                ([] if last is None else [last]) + list(self._scope_args),
            )
            yield from map(unpack, page)
            if len(page) < PAGE:
                return
            last = str(page[-1][0])
