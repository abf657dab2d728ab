"""A real PostgreSQL server with pgvector for the tests: ``pgserver`` (a wheel bundling
PostgreSQL 16 + pgvector) started once per session on a unix socket, stopped at the end.
Each test gets a fresh database (``pg_url``), since LangChain's ``PGVector`` keeps every
collection in one table whose ids are unique across collections.

As root, pgserver runs the server as a system user ``pgserver`` it creates with
``useradd`` (initdb refuses root), and opens read/traverse permission on the folders
above the data folder; the data folder therefore lives in its own ``mkdtemp`` folder,
short enough for the socket path.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from .optional import need

#: The environment variable that hands a database's URL to a worker process.
PG_URL_ENV = "NUDGE_TEST_PG_URL"

_databases = itertools.count()


def driver_url(url: str, driver: str) -> str:
    """``postgresql://...`` as SQLAlchemy's URL for ``driver`` (psycopg, psycopg2, asyncpg)."""
    return url.replace("postgresql://", f"postgresql+{driver}://", 1)


def database_url(url: str, database: str) -> str:
    """The same server's URL for another database."""
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL + pgvector server running for the session."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        pgserver = need("pgserver")
    need("psycopg")
    root = Path(tempfile.mkdtemp(prefix="nudge-pg-"))
    try:
        server = pgserver.get_server(root / "data", cleanup_mode="stop")
    except Exception as exc:
        log = root / "data" / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(
            f"pgserver could not start PostgreSQL ({type(exc).__name__}: {exc}). As root it "
            f"needs `useradd` to create its 'pgserver' user.\n{tail}"
        )
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A new, empty database with the vector extension; dropped after the test."""
    import psycopg

    name = f"nudge_{next(_databases)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = database_url(pg_server, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    yield url
    with psycopg.connect(pg_server, autocommit=True) as conn:  # FORCE: ends open sessions
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
