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


def test_the_last_line_is_said_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nudge_integrations.stores import progress

    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)  # every update logs, as with huge batches
    with progress.Progress(10, "swap", True) as bar:
        bar.update(4)
        bar.update(6)  # this line already says 10 / 10: closing adds none
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split(" (")[0] for ln in lines] == ["swap: 4 / 10 records", "swap: 10 / 10 records"]


@pytest.mark.parametrize("show", ["yes", 1, 0])
def test_show_progress_must_be_a_bool_or_none(tmp_path: Path, show: object) -> None:
    from nudge_integrations.core.errors import ArgumentError

    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    with pytest.raises(ArgumentError, match=r"show_progress must be True, False or None"):
        swap(store, tmp_path / "l", first_fit(base), base, show_progress=show)
