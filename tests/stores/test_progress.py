"""Progress of long store work: log lines off a terminal (at most every LOG_EVERY s), a tqdm
bar on one, nothing with show_progress=False; through a real swap and revert."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nudge_integrations.stores import lifecycle, progress
from nudge_integrations.stores.ledger import NudgeLedger

from ..optional import need
from .test_lifecycle_faults import first_fit, swap
from .tiny import TinyStore


def test_swap_logs_its_progress_off_a_terminal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)  # a line at every batch
    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    with caplog.at_level(logging.INFO, logger="nudge_integrations.stores"):
        swap(store, tmp_path / "l", first_fit(base), base, show_progress=True)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("swap: 2 / 11 records") for line in lines)  # per batch
    assert any(line.startswith("swap: 11 / 11 records") for line in lines)
    assert any(line.startswith("swap: reading the store") for line in lines)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nudge_integrations.stores"):
        lifecycle.revert(store, NudgeLedger(tmp_path / "l"), show_progress=False)
        lifecycle.status(store, NudgeLedger(tmp_path / "l"), show_progress=False)
    assert caplog.records == []


def test_short_work_logs_nothing_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    with caplog.at_level(logging.INFO, logger="nudge_integrations.stores"):
        swap(store, tmp_path / "l", first_fit(base), base)  # well under LOG_EVERY
    assert caplog.records == []


def test_a_bar_on_a_terminal_from_auto_min_records(monkeypatch: pytest.MonkeyPatch) -> None:
    need("tqdm")
    monkeypatch.setattr(progress, "_terminal", lambda: True)
    with progress.Progress(progress.AUTO_MIN, "swap") as big:
        assert big.bar is not None
        big.update(10)
        assert big.bar.n == 10
    assert big.bar is None  # closed
    with progress.Progress(progress.AUTO_MIN - 1, "swap") as small:
        assert small.bar is None and small.log
    with progress.Progress(10, "swap", show=True) as asked:
        assert asked.bar is not None
    with progress.Progress(10**6, "swap", show=False) as silent:
        assert silent.bar is None and not silent.log
