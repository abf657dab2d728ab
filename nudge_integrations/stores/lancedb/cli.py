"""``lancedb:PATH:TABLE`` on the command line: a table in a LanceDB folder, ids in its
``id`` column, vectors in ``vector`` (or ``--vector-field``)."""

from __future__ import annotations

from pathlib import Path

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.lancedb.writer import LanceDBWriter


def open_store(path: str, name: str, *, vector_field: str = "vector") -> Bound:
    """The table ``name`` of the LanceDB database folder ``path``."""
    import lancedb

    where = Path(path).expanduser()
    if not where.exists():
        raise NudgeError(f"{where} does not exist")
    try:
        table = lancedb.connect(str(where)).open_table(name)
    except ValueError as exc:  # lancedb 0.40: "Table 'x' was not found"
        raise NudgeError(f"no table {name!r} in {where}") from exc
    return Bound(LanceDBWriter(table, id_column="id", vector_column=vector_field), "LanceDB table")
