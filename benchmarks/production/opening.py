"""Open (or build) the store of a case, with the lookup "embedding model" its framework
is given, and the servers some stores need (PostgreSQL, a ``chroma run`` server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from production.data import Problem, lc_embeddings, li_embeddings
from production.handle import Handle
from production.lc import CHROMA_SERVER_ENV, PG_URL_ENV, open_langchain
from production.li import open_llama_index

#: Stores one process at a time may hold open (a Qdrant local folder, a Milvus Lite file).
EXCLUSIVE = {"qdrant", "milvus"}


def open_store(kind: str, framework: str, p: Problem, root: Path, build: bool) -> Handle:
    """The case's store under ``root``, as its framework's user opens it."""
    lookup = p.lookup()
    if framework == "langchain":
        return open_langchain(kind, p, root, lc_embeddings(lookup), build)
    return open_llama_index(kind, p, root, li_embeddings(lookup), build)


def embeddings(framework: str, p: Problem) -> Any:
    """The framework's lookup embedding model for ``p``."""
    lookup = p.lookup()
    return lc_embeddings(lookup) if framework == "langchain" else li_embeddings(lookup)


class Servers:
    """PostgreSQL (pgserver) or ``chroma run`` for the case, their address in the
    environment so child processes reach the same server; stopped by :meth:`stop`."""

    def __init__(self, kind: str) -> None:
        self.stops: list[Any] = []
        if kind == "pgvector":
            self._postgres()
        elif kind == "chroma-server":
            self._chroma()

    def _postgres(self) -> None:
        import pgserver
        import psycopg

        folder = Path(tempfile.mkdtemp(prefix="nudge-pg-"))  # short: the socket path
        start = pgserver.get_server  # type: ignore[attr-defined]
        server = start(folder / "data", cleanup_mode="stop")
        url = server.get_uri()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        base, _, query = url.partition("?")  # the same server, database "bench"
        url = f"{base.rsplit('/', 1)[0]}/bench" + (f"?{query}" if query else "")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        os.environ[PG_URL_ENV] = url

        def stop() -> None:
            server.cleanup()
            shutil.rmtree(folder, ignore_errors=True)

        self.stops.append(stop)

    def _chroma(self) -> None:
        import chromadb

        cli = Path(sys.executable).parent / "chroma"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        folder = Path(tempfile.mkdtemp(prefix="nudge-chroma-server-"))
        log = (folder / "server.log").open("wb")
        proc = subprocess.Popen(
            [str(cli), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_path = folder / "server.log"
                    raise SystemExit(f"chroma run did not start: see {log_path}") from exc
                time.sleep(0.3)
        os.environ[CHROMA_SERVER_ENV] = f"127.0.0.1:{port}"

        def stop() -> None:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
            shutil.rmtree(folder, ignore_errors=True)

        self.stops.append(stop)

    def stop(self) -> None:
        for stop in self.stops:
            stop()
