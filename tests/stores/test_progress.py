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


def test_work_of_unknown_size_counts_without_a_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store read page by page has no total: lines say how many records so far, and a
    bar on a terminal counts without one."""
    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
    with progress.Progress(None, "fit: reading the store", show=True) as asked:
        asked.update(7)
        asked.update(5)
    err = capsys.readouterr().err
    assert "fit: reading the store: 7 records (" in err
    assert "fit: reading the store: 12 records (" in err and " / " not in err
    need("tqdm")
    monkeypatch.setattr(progress, "_terminal", lambda: True)
    with progress.Progress(None, "fit", show=True) as bar:
        assert bar.bar is not None and bar.bar.total is None
        bar.update(3)
        assert bar.bar.n == 3
    with progress.Progress(None, "fit") as auto:  # unknown size, not asked: no bar
        assert auto.bar is None and auto.log
