"""A Chroma server for the tests: ``chroma run`` (the CLI that ships with chromadb) on a
free loopback port, started once per session when a selected test first asks for it (each
test names its own collection), with an ``HttpClient`` to it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .optional import missing, need


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A ``chroma run`` server on a free local port, and an ``HttpClient`` to it."""
    chromadb = need("chromadb")
    cli = Path(sys.executable).parent / "chroma"
    if not cli.exists():
        missing("the chroma CLI", f"not installed next to {sys.executable}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = tmp_path_factory.mktemp("chroma-server")
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(cli), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(root)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(
                        f"chroma run exited with {proc.returncode}: {log_path.read_text()[-2000:]}"
                    )
                try:
                    client = chromadb.HttpClient(host="127.0.0.1", port=port)
                    client.heartbeat()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        pytest.fail("the chroma server did not answer its heartbeat within 60 s")
                    time.sleep(0.2)
            yield client
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
