"""What a swap, revert or reapply did (:class:`SwapReport`) and where a store stands
against its ledger (:class:`LedgerStatus`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

State = Literal["base", "nudged", "half-swapped", "overwritten"]


@dataclass
class SwapReport:
    """What a swap, revert or reapply wrote, and what it skipped.

    ``written``: records given their nudged vector; ``restored``: given their base vector
    back; ``unchanged``: records that already held what the operation would have written
    them (e.g. a fit swapped in again), left untouched; ``changed`` and ``missing``:
    skipped, left as they are (text changed since the ledger was written, or no longer in
    the store). Each record is in exactly one list: a record whose text changed since the
    fit but whose current text's base the ledger keeps is given that base (``restored``,
    or ``unchanged`` if it holds it already), not listed as ``changed``."""

    written: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ledger: Path | None = None
    unchanged: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[str]:
        return self.changed + self.missing

    @property
    def ids(self) -> list[str]:
        """Every record written: nudged ones first, then those given their base back."""
        return self.written + self.restored

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:  # counts, not thousands of ids
        return (
            f"SwapReport(written={len(self.written)}, restored={len(self.restored)}, "
            f"unchanged={len(self.unchanged)}, changed={len(self.changed)}, "
            f"missing={len(self.missing)}, ledger={self.ledger})"
        )


@dataclass
class LedgerStatus:
    """Where a store stands against its ledger, record by record."""

    state: State
    ledger: Path | None
    active_fit: str | None
    fit: dict[str, Any] | None
    operation: str | None
    base: list[str] = field(default_factory=list)
    nudged: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    note: str | None = None
    #: The ledger's last completed change: ``kind`` (swap, revert, ...), ``at`` (Unix
    #: time), the fits ``before`` and ``after`` it (None: base vectors), and how many
    #: records it nudged (``written``) and gave their base back (``restored``).
    last: dict[str, Any] | None = None
    #: When the ledger's state was last written (Unix time; ledgers of earlier versions
    #: record this, not ``last``).
    updated: float | None = None

    def __str__(self) -> str:
        fit = f" ({_fit_text(self.fit)})" if self.fit else ""
        lines = [f"{self.state}: ledger {self.ledger}, active fit {self.active_fit}{fit}"]
        if self.operation:
            lines.append(f"  interrupted: {self.operation}")
        if self.state == "base" and self.ledger is not None and self.active_fit is None:
            lines.append(f"  the store holds its base vectors; {self._history()}")
        elif self.last:
            lines.append(f"  {self._history()}")
        if self.note:
            lines.append(f"  note: {self.note}")
        lines.append(
            f"  records: {len(self.base)} base, {len(self.nudged)} nudged, "
            f"{len(self.overwritten)} overwritten (neither base nor nudged), "
            f"{len(self.changed)} with changed text, {len(self.missing)} missing"
        )
        return "\n".join(lines)

    def _history(self) -> str:
        """What the ledger says was done last, and when."""
        last = self.last
        if not last:
            if self.updated is None:
                return "the ledger records no change"
            return (
                f"the ledger was last changed {_when(self.updated)} (it was written by an "
                "earlier version, which does not record by what)"
            )
        before, after = last.get("before"), last.get("after")
        if after is None and before is not None:
            what = f"fit {before['fit']} ({_fit_text(before)}) taken out"
        elif after is not None:
            what = f"fit {after['fit']} ({_fit_text(after)}) in"
            if before is not None and before.get("fit") != after.get("fit"):
                what += f", replacing fit {before['fit']}"
        else:
            what = "no fit in before or after"
        return (
            f"last change: {last.get('kind')} {_when(last.get('at'))}, {what}; "
            f"{last.get('written', 0)} records nudged, {last.get('restored', 0)} given "
            "their base back"
        )


def _fit_text(fit: dict[str, Any]) -> str:
    """``NUDGE-N, gamma 0.28, model all-MiniLM-L6-v2`` of a fit's summary."""
    gamma = fit.get("gamma")
    gamma_text = f"{gamma:.4g}" if isinstance(gamma, int | float) else "unknown"
    return f"NUDGE-{fit.get('variant')}, gamma {gamma_text}, model {fit.get('model') or 'unknown'}"


def _when(at: Any) -> str:
    """``on 2026-12-07 09:33:09 UTC`` of a Unix time."""
    if not isinstance(at, int | float):
        return "at an unknown time"
    stamp = datetime.fromtimestamp(at, tz=timezone.utc)
    return f"on {stamp:%Y-%m-%d %H:%M:%S} UTC"


def warn_skipped(report: SwapReport, what: str = "records") -> None:
    """Warn about records a swap, revert or reapply left alone, and why."""
    if report.changed or report.missing:
        warnings.warn(
            f"{len(report.changed)} {what} whose text changed since the ledger was written "
            f"and {len(report.missing)} no longer in the store were left as they are (e.g. "
            f"{(report.changed + report.missing)[0]!r}); a refit takes them as they are now",
            stacklevel=3,
        )


def never_nudged(
    what: str, *, keeps_markers: bool = True, ledger_option: str = "ledger=..."
) -> LedgerStatus:
    """The status of a store whose nudge ledger was not found. One that keeps markers
    has no record marked as nudged, so it holds its base vectors: never nudged, or
    reverted in full (which removes the markers, so a store without a location of its
    own no longer leads to its ledger). One that keeps none can tell nothing.
    ``ledger_option``: how the caller names the ledger's path (the CLI: ``--ledger``)."""
    if keeps_markers:
        note = (
            f"no nudge ledger was found for this {what} and none of its records is marked "
            "as nudged: it holds its base vectors (it was never nudged, or was reverted in "
            f"full, which removes the markers; pass its ledger's path, {ledger_option}, to "
            "see what was swapped in and reverted)"
        )
    else:
        note = (
            f"no nudge ledger was found for this {what}, which keeps no markers on its "
            "records: if nothing was swapped into it, it holds its base vectors; if "
            f"something was, pass its ledger's path ({ledger_option})"
        )
    return LedgerStatus(
        state="base", ledger=None, active_fit=None, fit=None, operation=None, note=note
    )
