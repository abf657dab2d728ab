"""The recipe store's database: one table of a SQLite file (stdlib ``sqlite3``), with
``id TEXT PRIMARY KEY, text TEXT, metadata TEXT (JSON), vector BLOB (float32 bytes)``.

It stands in for a vector database's own client (what ``chromadb`` is to Chroma): the
LangChain and LlamaIndex store classes and the writer all read and write through it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass
class Row:
    """One record: id, text, metadata (JSON-able) and its vector."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))


def _vector(blob: bytes) -> NDArray[np.float32]:
    return np.frombuffer(blob, dtype=np.float32).copy()


def _blob(vector: Any) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqliteTable:
    """A table of records in a SQLite file; every call is one SQL statement (or one
    transaction) and commits before it returns."""

    def __init__(self, path: str | Path, name: str = "records") -> None:
        if not name.isidentifier():
            raise ValueError(f"table name {name!r} is not an identifier")
        self.path = Path(path)
        self.name = name
        self._lock = threading.Lock()  # one connection, used from LangChain's threads too
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False)
        with self.conn:
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} (id TEXT PRIMARY KEY, text TEXT NOT NULL, "
                "metadata TEXT NOT NULL, vector BLOB NOT NULL)"
            )

    def _run(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock, self.conn:
            return list(self.conn.execute(sql, args))

    def upsert(self, rows: Iterable[Row]) -> None:
        """Add records, replacing those whose id is already there."""
        values = [(r.id, r.text, json.dumps(r.metadata), _blob(r.vector)) for r in rows]
        with self._lock, self.conn:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO {self.name} (id, text, metadata, vector) "
                "VALUES (?, ?, ?, ?)",
                values,
            )

    def delete(self, ids: Sequence[str]) -> None:
        self._run(f"DELETE FROM {self.name} WHERE id IN ({_marks(len(ids))})", list(ids))

    def ids(self) -> list[str]:
        """Every id, in insertion order."""
        return [str(r[0]) for r in self._run(f"SELECT id FROM {self.name} ORDER BY rowid")]

    def get(self, ids: Sequence[str]) -> dict[str, Row]:
        """The records of those ids the table holds."""
        if not ids:
            return {}
        got = self._run(
            f"SELECT id, text, metadata, vector FROM {self.name} WHERE id IN ({_marks(len(ids))})",
            list(ids),
        )
        return {str(i): Row(str(i), t, json.loads(m), _vector(v)) for i, t, m, v in got}

    def page(self, after: str | None, size: int) -> list[Row]:
        """Up to ``size`` records after id ``after`` (None: from the first), by id."""
        got = self._run(
            f"SELECT id, text, metadata, vector FROM {self.name} WHERE id > ? ORDER BY id LIMIT ?",
            ["" if after is None else after, size],
        )
        return [Row(str(i), t, json.loads(m), _vector(v)) for i, t, m, v in got]

    def set_vectors(self, vectors: Mapping[str, Any]) -> None:
        """Overwrite the vectors of existing ids (unknown ids are left out)."""
        with self._lock, self.conn:
            self.conn.executemany(
                f"UPDATE {self.name} SET vector = ? WHERE id = ?",
                [(_blob(v), i) for i, v in vectors.items()],
            )

    def metadata_values(self, ids: Sequence[str], key: str) -> dict[str, Any]:
        """``metadata[key]`` of those ids that have it."""
        got = self._run(
            f"SELECT id, json_extract(metadata, ?) FROM {self.name} "
            f"WHERE id IN ({_marks(len(ids))})",
            [f'$."{key}"', *ids],
        )
        return {str(i): v for i, v in got if v is not None}

    def set_metadata_value(self, ids: Sequence[str], key: str, value: str | None) -> None:
        """Set ``metadata[key]`` of those ids (None: remove the key)."""
        where = f"WHERE id IN ({_marks(len(ids))})"
        if value is None:
            sql = f"UPDATE {self.name} SET metadata = json_remove(metadata, ?) {where}"
            self._run(sql, [f'$."{key}"', *ids])
        else:
            sql = f"UPDATE {self.name} SET metadata = json_set(metadata, ?, ?) {where}"
            self._run(sql, [f'$."{key}"', value, *ids])

    def search(self, query: Sequence[float], k: int) -> list[tuple[str, float]]:
        """The ``k`` best ids by inner product with ``query``, and their scores."""
        got = self._run(f"SELECT id, vector FROM {self.name}")
        if not got:
            return []
        ids = [str(i) for i, _ in got]
        scores = np.stack([_vector(v) for _, v in got]) @ np.asarray(query, dtype=np.float32)
        best = np.argsort(-scores, kind="stable")[:k]
        return [(ids[n], float(scores[n])) for n in best]

    def close(self) -> None:
        self.conn.close()
