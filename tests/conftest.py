"""Shared fixtures: synthetic retrieval problems and the optional ../shared data; under
``NUDGE_STRICT_SKIPS=1`` a skip for a missing dependency fails (``tests/optional.py``)."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .chroma_server import chroma_server  # noqa: F401  (a local Chroma server)
from .optional import STRICT_ENV, strict
from .pg_server import pg_server, pg_url  # noqa: F401  (a PostgreSQL + pgvector server)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SCIFACT_EMB = SHARED / "data" / "scifact-minilm"
SCIFACT_BEIR = SHARED / "data" / "scifact-beir.tar.gz"


#: How ``pytest.importorskip`` words its skip (a call that bypassed ``tests/optional.py``).
_IMPORTORSKIP = "could not import "


def _fail_a_bare_importorskip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """A skip from a bare ``pytest.importorskip`` fails, as ``optional.need`` does strictly."""
    if not (report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    if reason.startswith(_IMPORTORSKIP):
        report.outcome = "failed"
        report.longrepr = (
            f"{reason}\n{STRICT_ENV}=1 makes a skip for a missing dependency a failure"
        )


class StrictSkips:
    """Under ``NUDGE_STRICT_SKIPS=1``, a plugin of the whole session (a conftest's own hooks
    miss the report of a folder whose conftest skipped) that fails bare importorskip skips."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        _fail_a_bare_importorskip(report)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        _fail_a_bare_importorskip(report)
        return report


def pytest_configure(config: pytest.Config) -> None:
    """Under ``NUDGE_STRICT_SKIPS=1``, bare importorskip skips fail too."""
    if strict():
        config.pluginmanager.register(StrictSkips(), "nudge-strict-skips")


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say when missing dependencies fail rather than skip."""
    return f"{STRICT_ENV}=1: a missing optional dependency fails its tests" if strict() else None


@dataclass
class Problem:
    """A clustered corpus with training and validation queries near their relevant records."""

    corpus: np.ndarray
    train_q: np.ndarray
    train_rel: list[list[int]]
    val_q: np.ndarray
    val_rel: list[list[int]]


def make_problem(
    seed: int = 0,
    n: int = 2000,
    d: int = 32,
    n_train: int = 600,
    n_val: int = 150,
    max_rel: int = 2,
    noise: float = 1.0,
    shift: float = 1.0,
) -> Problem:
    """Queries drawn around a pool of docs that both training and validation share.

    Each doc's queries centre on the doc plus a hidden doc-specific ``shift``, the gap
    between how documents and questions are phrased that NUDGE learns to close.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(4, n // 60), d))
    corpus = centers[rng.integers(0, len(centers), n)] + 0.8 * rng.normal(size=(n, d))
    corpus = (corpus / np.linalg.norm(corpus, axis=1, keepdims=True)).astype(np.float32)
    pool = rng.choice(n, size=max(10, n // 10), replace=False)
    offset = shift * rng.normal(size=(n, d)) / np.sqrt(d)

    def queries(m: int) -> tuple[np.ndarray, list[list[int]]]:
        rel = [
            [int(x) for x in rng.choice(pool, size=rng.integers(1, max_rel + 1), replace=False)]
            for _ in range(m)
        ]
        q = np.stack(
            [(corpus[r] + offset[r]).mean(0) + noise * rng.normal(size=d) / np.sqrt(d) for r in rel]
        )
        return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32), rel

    tq, tr = queries(n_train)
    vq, vr = queries(n_val)
    return Problem(corpus, tq, tr, vq, vr)


@pytest.fixture(autouse=True)
def _ledgers_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nudge ledgers that default to the user's cache go to a temp folder instead."""
    monkeypatch.setenv("NUDGE_LEDGER_DIR", str(tmp_path_factory.mktemp("ledgers")))


@pytest.fixture
def problem() -> Problem:
    return make_problem()


@dataclass
class SciFact:
    corpus: np.ndarray
    corpus_ids: list[str]
    queries: np.ndarray
    query_ids: list[str]


@pytest.fixture(scope="session")
def scifact_embeddings() -> SciFact:
    """The precomputed MiniLM SciFact embeddings from ../shared (skipped when absent)."""
    if not (SCIFACT_EMB / "corpus.npy").is_file():
        pytest.skip(f"SciFact embeddings not found at {SCIFACT_EMB} (../shared is absent)")
    return SciFact(
        np.load(SCIFACT_EMB / "corpus.npy"),
        json.loads((SCIFACT_EMB / "corpus_ids.json").read_text()),
        np.load(SCIFACT_EMB / "queries.npy"),
        json.loads((SCIFACT_EMB / "query_ids.json").read_text()),
    )


@pytest.fixture(scope="session")
def scifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SciFact in BEIR layout, unpacked from ../shared into a temp folder (skipped when absent)."""
    import tarfile

    if not SCIFACT_BEIR.is_file():
        pytest.skip(f"{SCIFACT_BEIR} not found (../shared is absent)")
    out = tmp_path_factory.mktemp("scifact")
    with tarfile.open(SCIFACT_BEIR) as tar:
        tar.extractall(out, filter="data")
    return out / "scifact"
