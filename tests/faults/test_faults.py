"""Fault tests on every store that persists: a swap SIGKILLed at a random batch, then, in a
new process with nothing but the store and its ledger: status, finish or roll back,
revert bit for bit, a rollback that itself fails, and a refit that does not compound."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ..optional import need
from ..pg_server import PG_URL_ENV

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    ("langchain", "chroma", "chromadb"),
    ("langchain", "milvus", "milvus_lite"),
    ("langchain", "qdrant", "qdrant_client"),
    ("langchain", "faiss", "faiss"),
    ("langchain", "inmemory", "langchain_core"),
    ("llama_index", "simple", "llama_index.core"),
    ("llama_index", "faiss", "llama_index.vector_stores.faiss"),
    ("llama_index", "chroma", "llama_index.vector_stores.chroma"),
    ("llama_index", "milvus", "llama_index.vector_stores.milvus"),
    ("llama_index", "qdrant", "llama_index.vector_stores.qdrant"),
    ("llama_index", "lancedb", "llama_index.vector_stores.lancedb"),
    ("langchain", "lancedb", "lancedb"),
    ("langchain", "pgvector", "langchain_postgres"),
    ("llama_index", "pgvector", "llama_index.vector_stores.postgres"),
]


def worker(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``tests.faults.worker`` with its ledgers under ``tmp``."""
    return subprocess.run(
        [sys.executable, "-m", "tests.faults.worker", *args],
        cwd=ROOT,
        env={**os.environ, "NUDGE_LEDGER_DIR": str(tmp / "ledgers")},
        capture_output=True,
        text=True,
        timeout=300,
    )


#: Each case runs two worker processes (5-10 s): one stays in the fast tier, the rest are slow.
FAST = ("langchain", "inmemory", "langchain_core")


@pytest.mark.parametrize(
    ("framework", "kind", "module"),
    [c if c == FAST else pytest.param(*c, marks=pytest.mark.slow) for c in CASES],
)
def test_killed_swap_recovers_from_the_ledger_alone(
    framework: str,
    kind: str,
    module: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need(module)
    if kind == "pgvector":  # both workers connect to a fresh database on the test's server
        monkeypatch.setenv(PG_URL_ENV, request.getfixturevalue("pg_url"))
    seed = random.SystemRandom().randrange(1 << 30)
    kill = random.Random(seed).randint(2, 5)  # the write call that never happens
    killed = worker(tmp_path, "swap", framework, kind, str(tmp_path), str(kill))
    assert killed.returncode == -9, (
        f"seed {seed}: the swap was not killed\n{killed.stdout}\n{killed.stderr[-3000:]}"
    )
    checked = worker(tmp_path, "check", framework, kind, str(tmp_path), str(seed))
    assert checked.returncode == 0, (
        f"seed {seed}, killed at write {kill}:\n{checked.stderr[-4000:]}"
    )
    seen = json.loads(checked.stdout.strip().splitlines()[-1])
    assert seen["status"] == "half-swapped" and "swap" in seen["operation"]
    assert seen["refit_from_base"] is True
