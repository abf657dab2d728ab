"""``pgvector:URL:TABLE`` on the command line: a table of a PostgreSQL database (the URL is
everything between the first and the last colon), ids in its ``id`` text column, vectors
in ``--vector-field`` (``embedding`` while that flag keeps its default), the nudge marker
in its ``metadata`` column where that is json or jsonb."""

from __future__ import annotations

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.pgvector.writer import column_types, pgvector_writer

#: The ``--vector-field`` default, which names the other stores' vector column.
_DEFAULT_FIELD = "vector"

#: Column types the ids may have (compared with text parameters).
_TEXT = ("text", "character varying", "character")


def engine_url(url: str) -> str:
    """``url`` as SQLAlchemy's URL, with psycopg (3, what the pgvector extra installs) as
    the driver when it names none."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg",
                                 "postgresql+psycopg2", "postgresql+pg8000"):  # fmt: skip
        raise NudgeError(
            f"{url!r} is not a PostgreSQL URL: give postgresql://USER[:PASSWORD]@HOST[:PORT]/"
            "DATABASE (or ?host=SOCKET_FOLDER)"
        )
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"


def open_store(path: str, name: str, *, vector_field: str = _DEFAULT_FIELD) -> Bound:
    """The table ``name`` (``schema.table`` allowed) of the database at URL ``path``."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(engine_url(path))
    schema, _, table = name.rpartition(".")
    try:
        try:
            types = column_types(engine, table, schema or None)
        except sqlalchemy.exc.OperationalError as exc:
            where = engine.url.render_as_string(hide_password=True)
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise NudgeError(f"could not connect to {where}: {first}") from exc
        if types.get("id") not in _TEXT:
            raise NudgeError(
                f"the table {name!r} has {types.get('id') or 'no'} 'id' column; its records' "
                "ids must be in a text column named id"
            )
        column = vector_field
        if vector_field == _DEFAULT_FIELD and not ("vector" in types and "embedding" not in types):
            column = "embedding"
        writer = pgvector_writer(
            engine,
            table,
            schema=schema or None,
            id_column="id",
            vector_column=column,
            metadata_column="metadata",
        )
    except Exception:
        engine.dispose()
        raise
    return Bound(writer, "PostgreSQL table")
