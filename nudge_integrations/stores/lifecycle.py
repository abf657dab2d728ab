"""Swap, revert, reapply, finish and roll back a store's vectors through its nudge ledger.

Every change of a store's vectors is a *transition* from one state (the base vectors, or
a fit swapped in) to another. The ledger is written first (base vectors, the fit, the
records to write and what they held, markers included), then the store in batches, the
ledger noting each batch done. A batch carries its records' markers with their vectors:
a record's ``nudge_ledger`` marker is set before its nudged vector is written and removed
after its base vector is, so a nudged record is marked at every instant. A failure rolls
the written batches back, markers included; a failure of the rollback, or a killed
process, leaves the ledger saying so, and :func:`finish` or :func:`rollback` completes
the transition from the ledger alone, in any process. Records whose text changed since
the ledger was written are never written: their old vectors no longer fit them.

Every read and write is cut to the store's :class:`~nudge_integrations.stores.base.Limits`
(``batch_size`` lowers them), and an operation reads only the records it may write: a
swap the new fit's and the earlier fit's, a partial revert its ids, finish and rollback
the interrupted operation's; a full revert, a reapply and :func:`status` read every
record the ledger keeps.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import ShapeError, UnknownIdError
from nudge_integrations.stores.base import (
    Limits,
    Located,
    StoreWriter,
    WritesMarked,
    batches,
)
from nudge_integrations.stores.binding import TextReader
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger, Operation, text_hash
from nudge_integrations.stores.planning import Plan, plan_transition
from nudge_integrations.stores.progress import Progress
from nudge_integrations.stores.records import (
    ATOL,
    Seen,
    describe,
    read_markers,
    read_texts,
    read_vectors,
    write_markers,
)
from nudge_integrations.stores.reports import (
    LedgerStatus,
    SwapReport,
    never_nudged,
    warn_skipped,
)
from nudge_integrations.stores.status import status

__all__ = [
    "ATOL",
    "LedgerStatus",
    "SwapReport",
    "TextReader",
    "base_from_ledger",
    "finish",
    "never_nudged",
    "read_markers",
    "reapply",
    "revert",
    "rollback",
    "status",
    "store_name",
    "swap",
    "warn_skipped",
]


# ---------------------------------------------------------------------------- helpers
def _limits(writer: StoreWriter, batch_size: int | None) -> Limits:
    """The store's limits, capped by the caller's ``batch_size``."""
    return writer.limits.capped(batch_size)


def _present(
    writer: StoreWriter,
    ids: Sequence[str],
    dim: int,
    texts: TextReader,
    limits: Limits,
    *,
    allow_missing: bool,
    show_progress: bool | None,
) -> tuple[list[str], list[str], dict[str, Any], dict[str, str]]:
    """(ids the store holds, ids it lacks, their vectors, their texts), read once within
    the store's limits; missing ids raise unless allowed, and the store's dimension must
    be NUDGE's."""
    current: dict[str, Any] = {}
    now: dict[str, str] = {}
    with Progress(len(ids), "swap: reading the fit's records", show_progress) as bar:
        for chunk in batches(list(ids), limits.read):
            got = read_vectors(writer, chunk, limits.read)
            current.update(got)
            now.update(read_texts(texts, [i for i in chunk if i in got], limits.read))
            bar.update(len(chunk))
    missing = [i for i in ids if i not in current]
    if missing and not allow_missing:
        raise UnknownIdError(
            f"id {missing[0]!r} is not in the vector store ({len(missing)} missing): the "
            "store must hold the records the fit was made on"
        )
    present = [i for i in ids if i in current]
    for i in present[:1]:
        if np.asarray(current[i]).shape != (dim,):
            raise ShapeError(
                f"the store holds {np.asarray(current[i]).size}-d vectors but NUDGE produced "
                f"{dim}-d ones: the store was built with another embedding model"
            )
    return present, missing, current, now


def _refuse_pending(ledger: NudgeLedger) -> None:
    """A new operation waits until an interrupted one is finished or rolled back."""
    if ledger.op is not None:
        raise LedgerError(
            f"the store is half-swapped ({describe(ledger.op)}); the ledger at "
            f"{ledger.path} records it: call finish() to complete that operation or "
            "rollback() to undo it first"
        )


# ---------------------------------------------------------------------------- transitions
def _write_batch(writer: StoreWriter, plan: Plan, chunk: Sequence[str], size: int) -> None:
    """One ledgered batch: markers naming the ledger before the nudged vectors they mark,
    the vectors, then the markers of records back at their base removed, so a record
    holding a nudged vector is marked at every instant a process could be killed."""
    vectors = {i: plan.want[i] for i in chunk if i in plan.want}
    if isinstance(writer, WritesMarked):
        writer.write_marked(vectors, {i: plan.marks[i] for i in chunk if i in plan.marks})
        return
    write_markers(writer, {i: plan.marks[i] for i in chunk if plan.marks.get(i)}, size)
    if vectors:
        writer.write(vectors)
    write_markers(
        writer, {i: None for i in chunk if i in plan.marks and plan.marks[i] is None}, size
    )


def _run(
    writer: StoreWriter,
    ledger: NudgeLedger,
    kind: str,
    target: str | None,
    *,
    scope: Sequence[str] | None = None,
    held_back: Sequence[str] = (),
    texts: TextReader = None,
    limits: Limits,
    show_progress: bool | None = None,
    resume: bool = False,
    restore: Mapping[str, Any] | None = None,
    restore_marks: Mapping[str, str | None] | None = None,
    seen: Seen | None = None,
) -> SwapReport:
    """Bring the ledger's records in ``scope`` (default: all) to what ``target`` (a fit
    id, None: base) says they hold, in ledgered batches of ``limits.write`` records.

    A new operation is named in the ledger first (with what its records held before,
    markers included); a failure then writes back what the written batches held and
    re-raises. A resumed one (``finish``, ``rollback``) works through the operation the
    ledger names: on a failure that operation stays named, for another finish or rollback."""
    if not resume:
        _refuse_pending(ledger)
    chosen = ledger.ids if scope is None else [i for i in dict.fromkeys(scope) if i in ledger]
    plan = plan_transition(
        writer,
        ledger,
        kind,
        target,
        chosen,
        held_back=held_back,
        texts=texts,
        limits=limits,
        show_progress=show_progress,
        resume=resume,
        restore=restore,
        restore_marks=restore_marks,
        seen=seen,
    )
    run = _Transition(ledger, kind, target, held_back, resume)
    op = run.open(plan, limits.write)
    if op is not None:
        _write_all(writer, run, plan, op, limits.write, show_progress)
    return run.close(plan, op)


@dataclass
class _Transition:
    """One transition's identity in the ledger: its kind, its target fit (None: base),
    the records held back from it, and whether it resumes an interrupted operation."""

    ledger: NudgeLedger
    kind: str
    target: str | None
    held_back: Sequence[str]
    resume: bool

    def open(self, plan: Plan, step: int) -> Operation | None:
        """The operation the batches count in: a resumed one's, restarted for this plan,
        or a new one named in the ledger with what its records held (None: nothing to
        write)."""
        ledger = self.ledger
        n_batches = -(-len(plan.records) // step)
        op = ledger.op
        if self.resume and op is not None:
            op.done, op.batch, op.batches, op.error = 0, step, n_batches, None
            ledger.save_state()
        elif plan.records:
            op = Operation(
                self.kind,
                ledger.active,
                self.target,
                plan.todo,
                step,
                held_back=list(self.held_back),
                marks=plan.marks_before,
                batches=n_batches,
            )
            ledger.begin(op, plan.before)
        return op

    def close(self, plan: Plan, op: Operation | None) -> SwapReport:
        """Record the completed transition in the ledger (active fit, last operation, none
        pending) and report what was written and restored."""
        ledger, kind = self.ledger, self.kind
        fit = ledger.fit(self.target)
        moved = set() if fit is None else set(fit.ids) - set(self.held_back)
        after = self.target if moved else None
        ledger.last = {
            "kind": kind
            if not self.resume or op is None
            else f"{kind} of an interrupted {op.kind}",
            "at": time.time(),
            "before": ledger.fit_summary(ledger.active),
            "after": ledger.fit_summary(after),
            "written": len([i for i in plan.todo if i in moved]),
            "restored": len([i for i in plan.todo if i not in moved]),
        }
        ledger.active = after
        ledger.held_back = [i for i in self.held_back if fit is not None and i in fit.ids]
        ledger.op = None
        ledger.save_state()
        ledger.prune()
        report = plan.report
        report.written = [i for i in plan.todo if i in moved]
        report.restored = [i for i in plan.todo if i not in moved]
        return report


def _write_all(
    writer: StoreWriter,
    run: _Transition,
    plan: Plan,
    op: Operation,
    step: int,
    show_progress: bool | None,
) -> None:
    """The plan's records in ledgered batches, each noted in the ledger once written. On
    a failure a new operation writes back what its written batches held, a resumed one
    stays named for another finish or rollback; either way the failure is re-raised."""
    records = plan.records
    done = 0
    try:
        with Progress(len(records), run.kind, show_progress) as bar:
            for chunk in batches(records, step):
                _write_batch(writer, plan, chunk, step)
                done += len(chunk)
                op.done += 1
                run.ledger.save_state()
                bar.update(len(chunk))
    except BaseException as exc:
        if run.resume:
            _keep_after(run.ledger, run.kind, exc)
        else:
            _roll_back_after(writer, run.ledger, exc, plan, records[: done + step], step)
        raise


def _roll_back_after(
    writer: StoreWriter,
    ledger: NudgeLedger,
    exc: BaseException,
    plan: Plan,
    touched: Sequence[str],
    step: int,
) -> None:
    """Write back, in place, what the failed operation's written batches (and the one that
    failed) held before it: the store's own vectors, whatever the ledger expected, and
    their markers (markers naming the ledger first, removed ones last, as in a batch)."""
    op = ledger.op
    assert op is not None
    marks = {i: plan.marks_before[i] for i in touched if i in plan.marks_before}
    try:
        write_markers(writer, {i: v for i, v in marks.items() if v is not None}, step)
        vectors = [i for i in touched if i in plan.before]
        for chunk in batches(vectors, step):
            writer.write({i: plan.before[i] for i in chunk})
        write_markers(writer, {i: v for i, v in marks.items() if v is None}, step)
    except Exception as again:
        op.error = f"failed with {exc!r}, and rolling back failed with {again!r}"
        ledger.save_state()
        raise LedgerError(
            f"writing the store failed ({exc!r}) and rolling back failed too ({again!r}): "
            f"the store is half-swapped, some of its {len(touched)} written records hold "
            f"the new vectors and the rest the old. The ledger at {ledger.path} records "
            "which: call finish() to complete the operation or rollback() to undo it "
            "(from this process or a new one, e.g. nudge_integrations.langchain.rollback"
            "(store) or nudge_integrations.llama_index.rollback(index))"
        ) from again
    ledger.op = None
    ledger.save_state()
    if hasattr(exc, "add_note"):
        exc.add_note(
            f"nudge-integrations: the {op.kind} was rolled back; the store holds the vectors "
            "it held before"
        )


def _keep_after(ledger: NudgeLedger, kind: str, exc: BaseException) -> None:
    """A finish or rollback failed: the ledger keeps naming the interrupted operation."""
    op = ledger.op
    assert op is not None
    op.error = f"{kind} stopped at batch {op.done + 1} of {op.n_batches}: {exc!r}"
    ledger.save_state()
    if hasattr(exc, "add_note"):
        exc.add_note(
            f"nudge-integrations: the {kind} stopped; the ledger at {ledger.path} still "
            f"records the interrupted {op.kind}: call finish() or rollback() again"
        )


F = TypeVar("F", bound=Callable[..., Any])


def _exclusive(operation: F) -> F:
    """Run a transition holding its ledger's lock (one writer per store at a time)."""

    @functools.wraps(operation)
    def locked(writer: StoreWriter, ledger: NudgeLedger, *args: Any, **kwargs: Any) -> Any:
        with ledger.exclusive(operation.__name__):
            return operation(writer, ledger, *args, **kwargs)

    return cast(F, locked)


@_exclusive
def swap(
    writer: StoreWriter,
    ledger: NudgeLedger,
    nudged: Mapping[str, NDArray[np.float32]],
    base: Mapping[str, NDArray[np.float32]],
    hashes: Mapping[str, str],
    *,
    variant: str,
    gamma: float,
    model: str | None,
    dim: int,
    texts: TextReader = None,
    allow_missing: bool = False,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Swap a fit's nudged vectors into the store: the base vectors and the fit go into the
    ledger first; records of an earlier fit that this one does not move get their base
    vectors back; records whose text changed since the fit are skipped. Records not in the
    store raise (the wrong store?) unless ``allow_missing`` (a reapply after a re-index
    that dropped some), where they are skipped and reported.

    Reads and writes stay within the store's limits; ``batch_size`` lowers the records per
    ledgered batch; ``show_progress`` as in
    :mod:`~nudge_integrations.stores.progress`."""
    _refuse_pending(ledger)  # before the fit goes into the ledger
    limits = _limits(writer, batch_size)
    ids, gone, current, now = _present(
        writer,
        list(nudged),
        dim,
        texts,
        limits,
        allow_missing=allow_missing,
        show_progress=show_progress,
    )
    now_hashes = {i: text_hash(t) for i, t in now.items()}  # hashed once per swap
    changed = [i for i in ids if i in now_hashes and now_hashes[i] != hashes[i]]
    changed_set = set(changed)
    keep = [i for i in ids if i not in changed_set]
    ledger.record_base({i: base[i] for i in keep}, hashes, store=store_name(writer))
    earlier = ledger.fit(ledger.active)
    fit_id = ledger.add_fit(
        {i: nudged[i] for i in keep}, hashes, variant=variant, gamma=gamma, model=model
    )
    # this fit's records, and the earlier fit's, which go back to their base
    scope = ids + ([] if earlier is None else earlier.ids)
    report = _run(
        writer,
        ledger,
        "swap",
        fit_id,
        scope=scope,
        texts=texts,
        limits=limits,
        show_progress=show_progress,
        seen=(current, now_hashes),
    )
    # a record the fit saw with other text is skipped, but where the ledger already keeps
    # the base of its current text (an earlier swap renewed it) _run brought it to that
    # base: it is reported there (restored or unchanged), each record in one list only
    settled = set(report.restored) | set(report.unchanged)
    report.changed = sorted((set(report.changed) | set(changed)) - settled)
    report.missing = sorted(set(report.missing) | set(gone))
    written = set(report.written)  # records already holding their nudge are unchanged
    report.written = [i for i in keep if i in written]
    return report


@_exclusive
def revert(
    writer: StoreWriter,
    ledger: NudgeLedger,
    ids: Sequence[str] | None = None,
    *,
    texts: TextReader = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Write the base vectors back, of ``ids`` or of every record the ledger keeps (all
    of them are read: whatever the store went through since, each ends at its base)."""
    limits = _limits(writer, batch_size)
    if ids is None:
        return _run(
            writer, ledger, "revert", None, texts=texts, limits=limits, show_progress=show_progress
        )
    unknown = [i for i in ids if i not in ledger]
    if unknown:
        raise UnknownIdError(
            f"record {unknown[0]!r} was never nudged in this store (the ledger at "
            f"{ledger.path} keeps no base vector for it)"
        )
    held = sorted(set(ledger.held_back) | set(ids))
    return _run(
        writer,
        ledger,
        "revert",
        ledger.active,
        scope=list(ids),
        held_back=held,
        texts=texts,
        limits=limits,
        show_progress=show_progress,
    )


@_exclusive
def reapply(
    writer: StoreWriter,
    ledger: NudgeLedger,
    *,
    texts: TextReader = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Write the active fit's vectors again (after a re-index overwrote them); every
    ledger record is read, so those overwritten outside the fit get their base back."""
    if ledger.active is None:
        raise LedgerError(f"the ledger at {ledger.path} has no fit swapped in to reapply")
    return _run(
        writer,
        ledger,
        "reapply",
        ledger.active,
        held_back=ledger.held_back,
        texts=texts,
        limits=_limits(writer, batch_size),
        show_progress=show_progress,
    )


@_exclusive
def finish(
    writer: StoreWriter,
    ledger: NudgeLedger,
    *,
    texts: TextReader = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Complete an interrupted swap or revert (no-op when none is pending): its records
    are read and those not yet at the operation's target written, markers included."""
    op = ledger.op
    if op is None:
        return SwapReport(ledger=ledger.path)
    if op.kind == "rollback":  # named by a ledger of an earlier version: finish undoing
        return rollback(
            writer, ledger, texts=texts, batch_size=batch_size, show_progress=show_progress
        )
    return _run(
        writer,
        ledger,
        "finish",
        op.target,
        scope=op.records,
        held_back=op.held_back,
        texts=texts,
        limits=_limits(writer, batch_size),
        show_progress=show_progress,
        resume=True,
    )


@_exclusive
def rollback(
    writer: StoreWriter,
    ledger: NudgeLedger,
    *,
    texts: TextReader = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Undo an interrupted swap or revert: each of its records back to the vector and the
    marker it held before (the ledger's snapshot, whatever the ledger expected)."""
    op = ledger.op
    if op is None:
        return SwapReport(ledger=ledger.path)
    held = ledger.held_back if op.source == ledger.active else ()
    restore = ledger.before()
    if op.ids and not restore:  # the snapshot is unreadable: what the ledger says it held
        restore = ledger.target(op.source, held, op.ids)
    return _run(
        writer,
        ledger,
        "rollback",
        op.source,
        scope=op.records,
        held_back=held,
        texts=texts,
        limits=_limits(writer, batch_size),
        show_progress=show_progress,
        resume=True,
        restore=restore,
        restore_marks=None if op.legacy else op.marks,
    )


def base_from_ledger(
    ledger: NudgeLedger, vectors: dict[str, Any], texts: Mapping[str, str]
) -> list[str]:
    """Replace, in ``vectors`` (id -> vector read from a store), the vector of every record
    the ledger keeps and whose text is unchanged by its base vector; returns those ids."""
    replaced = []
    base = ledger.base([i for i in vectors if i in ledger])
    for i, vec in base.items():
        if i in texts and text_hash(texts[i]) == ledger.hash_of(i):
            vectors[i] = vec
            replaced.append(i)
    return replaced


def store_name(writer: StoreWriter) -> str:
    """The store a ledger belongs to: the writer's kind and its location (paths absolute)."""
    found = writer.location() if isinstance(writer, Located) else None
    if not found:
        return type(writer).__name__
    kind, place, collection = found
    if kind == "path":
        place = str(Path(place).expanduser().resolve())
    return f"{type(writer).__name__}:{kind}:{place}:{collection}"
