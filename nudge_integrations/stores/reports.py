"""What a swap, revert or reapply did (:class:`SwapReport`) and where a store stands
against its ledger (:class:`LedgerStatus`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
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

    def __str__(self) -> str:
        fit = ""
        if self.fit:
            fit = (
                f" (NUDGE-{self.fit['variant']}, gamma {self.fit['gamma']:.4g}, model "
                f"{self.fit['model'] or 'unknown'})"
            )
        lines = [f"{self.state}: ledger {self.ledger}, active fit {self.active_fit}{fit}"]
        if self.operation:
            lines.append(f"  interrupted: {self.operation}")
        if self.note:
            lines.append(f"  note: {self.note}")
        lines.append(
            f"  records: {len(self.base)} base, {len(self.nudged)} nudged, "
            f"{len(self.overwritten)} overwritten (neither base nor nudged), "
            f"{len(self.changed)} with changed text, {len(self.missing)} missing"
        )
        return "\n".join(lines)


def warn_skipped(report: SwapReport, what: str = "records") -> None:
    """Warn about records a swap, revert or reapply left alone, and why."""
    if report.changed or report.missing:
        warnings.warn(
            f"{len(report.changed)} {what} whose text changed since the ledger was written "
            f"and {len(report.missing)} no longer in the store were left as they are (e.g. "
            f"{(report.changed + report.missing)[0]!r}); a refit takes them as they are now",
            stacklevel=3,
        )


def never_nudged(what: str) -> LedgerStatus:
    """The status of a store that has no nudge ledger: it holds its base vectors."""
    return LedgerStatus(
        state="base",
        ledger=None,
        active_fit=None,
        fit=None,
        operation=None,
        note=(
            f"this {what} has no nudge ledger: nothing was ever swapped in (if one was, "
            "pass the ledger's path, ledger=...)"
        ),
    )
