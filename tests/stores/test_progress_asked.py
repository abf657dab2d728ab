"""``show_progress=True`` off a terminal: the lines reach stderr when no logging is set up
(they went only to a logger nobody configured), and the logger alone when it would show
them; a last line says the work ended, however short."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.ledger import NudgeLedger

from .test_lifecycle_faults import first_fit, swap
from .tiny import TinyStore


def test_asked_progress_reaches_stderr_without_logging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    assert not logging.getLogger("nudge_integrations.stores").isEnabledFor(logging.INFO)
    swap(store, tmp_path / "l", first_fit(base), base, show_progress=True)  # well under 5 s
    err = capsys.readouterr().err
    assert "swap: 11 / 11 records" in err
    lifecycle.revert(store, NudgeLedger(tmp_path / "l"), show_progress=None)  # auto: quiet
    lifecycle.status(store, NudgeLedger(tmp_path / "l"), show_progress=False)
    assert capsys.readouterr().err == ""
    assert caplog.records == []


def test_asked_progress_goes_to_the_logger_when_it_shows_info(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    with caplog.at_level(logging.INFO, logger="nudge_integrations.stores"):
        swap(store, tmp_path / "l", first_fit(base), base, show_progress=True)
    assert any(r.getMessage().startswith("swap: 11 / 11 records") for r in caplog.records)
    assert "records" not in capsys.readouterr().err  # once, not twice
