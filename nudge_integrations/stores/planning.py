"""What a transition writes: each record's target vector and marker, against what it holds.

A transition (swap, revert, reapply, finish, rollback) first reads what its records hold,
``limits.read`` records a request (texts, vectors, markers), and decides per record:
write its target vector, leave it (it holds its target already, or its text changed
since the ledger was written, or it is gone), and set or remove its marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nudge_integrations.stores.base import KeepsMarkers, Limits, StoreWriter, batches
from nudge_integrations.stores.binding import TextReader
from nudge_integrations.stores.ledger import NudgeLedger
from nudge_integrations.stores.progress import Progress
from nudge_integrations.stores.records import Seen, read_current, read_markers, rows_hold
from nudge_integrations.stores.reports import SwapReport


@dataclass
class Plan:
    """What a transition writes: ``todo`` records' vectors (``want``), in that order,
    and the markers of ``marks`` (value after; None: removed); what they held before."""

    report: SwapReport
    todo: list[str] = field(default_factory=list)
    want: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, str | None] = field(default_factory=dict)
    marks_before: dict[str, str | None] = field(default_factory=dict)

    @property
    def records(self) -> list[str]:
        """Records written, vectors first (each with its marker), then markers alone."""
        return self.todo + [i for i in self.marks if i not in self.want]


@dataclass
class _Goal:
    """What the records of a transition must hold after it, and what a resumed one's
    records held before it began."""

    moved: set[str]
    nudged: dict[str, Any]
    path: str
    resume: bool
    restore: Mapping[str, Any] | None
    restore_marks: Mapping[str, str | None] | None
    earlier: dict[str, Any]
    earlier_marks: Mapping[str, str | None]

    def targets(self, ledger: NudgeLedger, chunk: Sequence[str]) -> dict[str, Any]:
        """The vector each of ``chunk``'s records must hold (``restore``'s where given)."""
        if self.restore is not None:
            return {i: self.restore[i] for i in chunk if i in self.restore}
        want = ledger.base(chunk)
        want.update({i: self.nudged[i] for i in chunk if i in self.moved})
        return want

    def mark(self, i: str) -> tuple[bool, str | None]:
        """Whether record ``i``'s marker is decided here, and its value after."""
        if self.restore_marks is not None:
            return i in self.restore_marks, self.restore_marks.get(i)
        return True, self.path if i in self.moved else None


def plan_transition(
    writer: StoreWriter,
    ledger: NudgeLedger,
    label: str,
    target: str | None,
    scope: Sequence[str],
    *,
    held_back: Sequence[str],
    texts: TextReader,
    limits: Limits,
    show_progress: bool | None,
    resume: bool,
    restore: Mapping[str, Any] | None,
    restore_marks: Mapping[str, str | None] | None,
    seen: Seen | None,
) -> Plan:
    """Read what ``scope``'s records hold now, ``limits.read`` records a request (vectors,
    texts, markers; ``seen``: vectors and text hashes already read), and decide what to write.

    A record's target is what ``target`` says it holds (``restore``, a rollback's
    snapshot, instead where given: then records outside it keep their vectors); its
    marker names the ledger when it will hold a nudged vector and is removed when it will
    hold its base (``restore_marks`` instead where given: then only those change). A
    resumed operation skips what the store already holds up to its own rounding, and so
    does any record's nudged vector (a fit swapped in again into a store that
    re-normalises, as status() counts it); base vectors are written back bit for bit."""
    fit = ledger.fit(target)
    goal = _Goal(
        moved=set() if fit is None else set(fit.ids) - set(held_back),
        nudged={} if fit is None else fit.as_dict(),
        path=str(ledger.path),
        resume=resume,
        restore=restore,
        restore_marks=restore_marks,
        earlier=ledger.before() if resume else {},
        earlier_marks=ledger.op.marks if resume and ledger.op is not None else {},
    )
    keeps_marks = isinstance(writer, KeepsMarkers)
    plan = Plan(SwapReport(ledger=ledger.path))
    with Progress(len(scope), f"{label}: reading the store", show_progress) as bar:
        for chunk in batches(list(scope), limits.read):
            current, changed = read_current(writer, ledger, chunk, texts, limits.read, seen)
            _decide_vectors(plan, goal, chunk, goal.targets(ledger, chunk), current, changed)
            if keeps_marks:
                present = [i for i in chunk if i in current]
                _decide_marks(plan, goal, present, read_markers(writer, present, limits.read))
            bar.update(len(chunk))
    return plan


def _decide_vectors(
    plan: Plan,
    goal: _Goal,
    chunk: Sequence[str],
    want: Mapping[str, Any],
    current: Mapping[str, Any],
    changed: set[str],
) -> None:
    """Sort ``chunk``'s records into the plan: changed, missing, to write, or unchanged."""
    checked = [i for i in chunk if i in current and i in want]
    held = rows_hold(
        [current[i] for i in checked],
        [want[i] for i in checked],
        [goal.resume or i in goal.moved for i in checked],
    )
    holds = dict(zip(checked, held, strict=True))
    report = plan.report
    for i in chunk:
        if i in changed:
            report.changed.append(i)
        elif i not in current:
            report.missing.append(i)
        elif i in holds and not holds[i]:
            plan.todo.append(i)
            plan.want[i] = want[i]
            plan.before[i] = goal.earlier.get(i, current[i])
        else:  # already holds its target vector: nothing to write
            report.unchanged.append(i)


def _decide_marks(
    plan: Plan, goal: _Goal, present: Sequence[str], marks_now: Mapping[str, str | None]
) -> None:
    """The markers of ``present`` records that must change, and what they held before."""
    for i in present:
        decided, after = goal.mark(i)
        if not decided or marks_now.get(i) == after:
            continue
        plan.marks[i] = after
        had = goal.earlier_marks[i] if i in goal.earlier_marks else marks_now.get(i)
        plan.marks_before[i] = had
