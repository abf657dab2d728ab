"""Swap, revert, reapply, finish and roll back a store's vectors through its nudge ledger.

Every change of a store's vectors is a *transition* from one state (the base vectors, or
a fit swapped in) to another. The ledger is written first (base vectors, the fit, the
list of records to write), then the store in batches, the ledger noting each batch done.
A failure rolls the written batches back; a failure of the rollback, or a killed
process, leaves the ledger saying so, and :func:`finish` or :func:`rollback` completes
the transition from the ledger alone, in any process. Records whose text changed since
the ledger was written are never written: their old vectors no longer fit them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import ShapeError, UnknownIdError
from nudge_integrations.stores import base as _base
from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger, Operation, text_hash

#: Reads the current text of records by id (absent ids left out); None: texts not checked.
TextReader = Callable[[Sequence[str]], Mapping[str, str]] | None

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


# ---------------------------------------------------------------------------- helpers
def _same(a: Any, b: Any) -> bool:
    return bool(np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32)))


def _close(a: Any, b: Any) -> bool:
    """Equal up to what a store does to a vector it keeps (float32, re-normalisation)."""
    a32, b32 = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a32.shape == b32.shape and bool(np.allclose(a32, b32, rtol=0, atol=2e-6))


def warn_skipped(report: SwapReport, what: str = "records") -> None:
    """Warn about records a swap, revert or reapply left alone, and why."""
    if report.changed or report.missing:
        warnings.warn(
            f"{len(report.changed)} {what} whose text changed since the ledger was written "
            f"and {len(report.missing)} no longer in the store were left as they are (e.g. "
            f"{(report.changed + report.missing)[0]!r}); a refit takes them as they are now",
            stacklevel=3,
        )


def _write_markers(writer: StoreWriter, ids: Sequence[str], value: str | None) -> None:
    mark = getattr(writer, "write_markers", None)
    if mark is not None and ids:
        mark(list(ids), value)


def read_markers(writer: StoreWriter, ids: Sequence[str]) -> dict[str, str]:
    """Ledger paths recorded on the records (stores that keep metadata), by id."""
    read = getattr(writer, "read_markers", None)
    return dict(read(list(ids))) if read is not None and ids else {}


def _changed(ledger: NudgeLedger, ids: Sequence[str], texts: TextReader) -> set[str]:
    if texts is None or not ids:
        return set()
    now = texts(list(ids))
    return {i for i in ids if i in now and text_hash(now[i]) != ledger.hash_of(i)}


def _present(
    writer: StoreWriter, ids: Sequence[str], dim: int, *, allow_missing: bool
) -> tuple[list[str], list[str]]:
    """(ids the store holds, ids it lacks), read once; missing ids raise unless allowed,
    and the store's dimension must be NUDGE's."""
    current = _read(writer, ids)
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
    return present, missing


def _describe(op: Operation) -> str:
    src = "base vectors" if op.source is None else f"fit {op.source}"
    dst = "base vectors" if op.target is None else f"fit {op.target}"
    text = f"{op.kind} from {src} to {dst}: {op.done} of {op.n_batches} batches written"
    return text + (f"; {op.error}" if op.error else "")


# ---------------------------------------------------------------------------- transitions
def _read(writer: StoreWriter, ids: Sequence[str]) -> dict[str, Any]:
    """Current vectors (some clients refuse an empty id list)."""
    return dict(writer.read(list(ids))) if ids else {}


def _run(
    writer: StoreWriter,
    ledger: NudgeLedger,
    kind: str,
    target: str | None,
    *,
    held_back: Sequence[str] = (),
    texts: TextReader = None,
    batch: int = 0,
    resume: bool = False,
    restore: Mapping[str, Any] | None = None,
) -> SwapReport:
    """Bring every ledger record to what ``target`` (a fit id, None: base) says it holds;
    ``restore`` overrides that for some records (a rollback's snapshot)."""
    if ledger.op is not None and not resume:
        raise LedgerError(
            f"the store is half-swapped ({_describe(ledger.op)}); the ledger at "
            f"{ledger.path} records it: call finish() to complete that operation or "
            "rollback() to undo it first"
        )
    earlier = ledger.before() if resume else {}
    source = ledger.op.source if resume and ledger.op is not None else ledger.active
    want = ledger.target(target, held_back)
    want.update(restore or {})
    report = SwapReport(ledger=ledger.path)
    changed = _changed(ledger, list(want), texts)
    current = _read(writer, [i for i in want if i not in changed])
    fit = ledger.fit(target)
    moved = set() if fit is None else set(fit.ids) - set(held_back)
    # a resumed operation skips what the store already holds up to its own rounding, and
    # so does any record's nudged vector (a fit swapped in again into a store that
    # re-normalises, as status() counts it); base vectors are written back bit for bit
    todo = []
    for i in want:
        same = _close if resume or i in moved else _same
        if i in changed:
            report.changed.append(i)
        elif i not in current:
            report.missing.append(i)
        elif not same(current[i], want[i]):
            todo.append(i)
        else:  # already holds its target vector: nothing to write
            report.unchanged.append(i)
    step = batch or _base.BATCH
    before = {i: earlier.get(i, current[i]) for i in todo}
    op = Operation(kind, source, target, todo, step)
    ledger.begin(op, before)
    to_mark = [i for i in todo if i in moved] + _unmarked(
        writer, [i for i in report.unchanged if i in moved], ledger
    )
    _write_markers(writer, to_mark, str(ledger.path))
    try:
        for start in range(0, len(todo), step):
            writer.write({i: want[i] for i in todo[start : start + step]})
            op.done += 1
            ledger.save_state()
    except BaseException as exc:
        _roll_back_after(writer, ledger, exc, before)
        raise
    ledger.active = target if moved else None
    ledger.held_back = [i for i in held_back if fit is not None and i in fit.ids]
    ledger.op = None
    ledger.save_state()
    ledger.prune()
    marked = read_markers(writer, [i for i in want if i not in moved and i in current])
    _write_markers(writer, list(marked), None)
    report.written = [i for i in todo if i in moved]
    report.restored = [i for i in todo if i not in moved]
    return report


def _unmarked(writer: StoreWriter, ids: Sequence[str], ledger: NudgeLedger) -> list[str]:
    """Those of ``ids`` (nudged records left as they were) whose marker does not name
    ``ledger`` (stores that keep markers), so they are marked without a vector write."""
    if not ids or getattr(writer, "write_markers", None) is None:
        return []
    marks = read_markers(writer, ids)
    return [i for i in ids if marks.get(i) != str(ledger.path)]


def _roll_back_after(
    writer: StoreWriter, ledger: NudgeLedger, exc: BaseException, before: Mapping[str, Any]
) -> None:
    """Write back, in place, what the failed operation's written batches (and the one that
    failed) held before it: the store's own vectors, whatever the ledger expected."""
    op = ledger.op
    assert op is not None
    touched = op.ids[: min(len(op.ids), (op.done + 1) * op.batch)]
    try:
        for start in range(0, len(touched), op.batch):
            writer.write({i: before[i] for i in touched[start : start + op.batch]})
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
    batch: int = 0,
    allow_missing: bool = False,
) -> SwapReport:
    """Swap a fit's nudged vectors into the store: the base vectors and the fit go into the
    ledger first; records of an earlier fit that this one does not move get their base
    vectors back; records whose text changed since the fit are skipped. Records not in the
    store raise (the wrong store?) unless ``allow_missing`` (a reapply after a re-index
    that dropped some), where they are skipped and reported."""
    ids, gone = _present(writer, list(nudged), dim, allow_missing=allow_missing)
    now = texts(ids) if texts is not None and ids else {}
    changed = [i for i in ids if i in now and text_hash(now[i]) != hashes[i]]
    keep = [i for i in ids if i not in set(changed)]
    ledger.record_base({i: base[i] for i in keep}, hashes, store=store_name(writer))
    fit_id = ledger.add_fit(
        {i: nudged[i] for i in keep}, hashes, variant=variant, gamma=gamma, model=model
    )
    report = _run(writer, ledger, "swap", fit_id, texts=texts, batch=batch)
    # a record the fit saw with other text is skipped, but where the ledger already keeps
    # the base of its current text (an earlier swap renewed it) _run brought it to that
    # base: it is reported there (restored or unchanged), each record in one list only
    settled = set(report.restored) | set(report.unchanged)
    report.changed = sorted((set(report.changed) | set(changed)) - settled)
    report.missing = sorted(set(report.missing) | set(gone))
    written = set(report.written)  # records already holding their nudge are unchanged
    report.written = [i for i in keep if i in written]
    return report


def revert(
    writer: StoreWriter,
    ledger: NudgeLedger,
    ids: Sequence[str] | None = None,
    *,
    texts: TextReader = None,
    batch: int = 0,
) -> SwapReport:
    """Write the base vectors back, of ``ids`` or of every record the ledger keeps."""
    if ids is None:
        return _run(writer, ledger, "revert", None, texts=texts, batch=batch)
    unknown = [i for i in ids if i not in ledger]
    if unknown:
        raise UnknownIdError(
            f"record {unknown[0]!r} was never nudged in this store (the ledger at "
            f"{ledger.path} keeps no base vector for it)"
        )
    held = sorted(set(ledger.held_back) | set(ids))
    return _run(writer, ledger, "revert", ledger.active, held_back=held, texts=texts, batch=batch)


def reapply(
    writer: StoreWriter, ledger: NudgeLedger, *, texts: TextReader = None, batch: int = 0
) -> SwapReport:
    """Write the active fit's vectors again (after a re-index overwrote them)."""
    if ledger.active is None:
        raise LedgerError(f"the ledger at {ledger.path} has no fit swapped in to reapply")
    return _run(
        writer,
        ledger,
        "reapply",
        ledger.active,
        held_back=ledger.held_back,
        texts=texts,
        batch=batch,
    )


def finish(
    writer: StoreWriter, ledger: NudgeLedger, *, texts: TextReader = None, batch: int = 0
) -> SwapReport:
    """Complete an interrupted swap or revert (no-op when none is pending)."""
    op = ledger.op
    if op is None:
        return SwapReport(ledger=ledger.path)
    return _run(writer, ledger, op.kind, op.target, texts=texts, batch=batch, resume=True)


def rollback(
    writer: StoreWriter, ledger: NudgeLedger, *, texts: TextReader = None, batch: int = 0
) -> SwapReport:
    """Undo an interrupted swap or revert: every record back to what it held before."""
    op = ledger.op
    if op is None:
        return SwapReport(ledger=ledger.path)
    held = ledger.held_back if op.source == ledger.active else ()
    return _run(
        writer,
        ledger,
        "rollback",
        op.source,
        held_back=held,
        texts=texts,
        batch=batch,
        resume=True,
        restore=ledger.before(),
    )


def status(writer: StoreWriter, ledger: NudgeLedger, *, texts: TextReader = None) -> LedgerStatus:
    """Read every ledger record from the store and say where the store stands.

    Each record is compared with what the active fit says it holds first (so a nudge too
    small for the store's own rounding to keep still counts), then with the alternative;
    vectors that are neither were overwritten (a re-index)."""
    if not ledger.exists:
        raise LedgerError(f"no nudge ledger at {ledger.path}: nothing was swapped in there")
    op = ledger.op
    fits = [ledger.fit(f) for f in {ledger.active, *((op.source, op.target) if op else ())}]
    nudged_vecs = [f.as_dict() for f in fits if f is not None]
    base = ledger.base(ledger.ids)
    changed = _changed(ledger, ledger.ids, texts)
    current = _read(writer, [i for i in ledger.ids if i not in changed])
    active = ledger.fit(ledger.active)
    expected = (
        {}
        if active is None
        else {i: v for i, v in active.as_dict().items() if i not in set(ledger.held_back)}
    )
    out = LedgerStatus(
        state="base",
        ledger=ledger.path,
        active_fit=ledger.active,
        fit=None
        if active is None
        else {"variant": active.variant, "gamma": active.gamma, "model": active.model},
        operation=None if op is None else _describe(op),
    )
    for i in ledger.ids:
        if i in changed:
            out.changed.append(i)
        elif i not in current:
            out.missing.append(i)
        elif i in expected and _close(current[i], expected[i]):
            out.nudged.append(i)
        elif _close(current[i], base[i]):
            out.base.append(i)
        elif any(i in v and _close(current[i], v[i]) for v in nudged_vecs):
            out.nudged.append(i)
        else:
            out.overwritten.append(i)
    present = set(expected) - set(out.changed) - set(out.missing)
    if op is not None:
        out.state = "half-swapped"
    elif out.overwritten:
        out.state = "overwritten"
        out.note = (
            f"{len(out.overwritten)} records hold neither their base nor their nudged vector "
            "(re-embedded by a re-index?): reapply() writes the nudge again, revert() the base"
        )
    elif present and set(out.nudged) == present:
        out.state = "nudged"
    elif out.nudged:
        out.state = "half-swapped"
    elif present:
        out.note = (
            f"the ledger's active fit {ledger.active} is not in the store (it was saved "
            "before the swap, or reloaded from an older copy): reapply() swaps it in, "
            "revert() clears it"
        )
    return out


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
    where = getattr(writer, "location", None)
    found = where() if where is not None else None
    if not found:
        return type(writer).__name__
    kind, place, collection = found
    if kind == "path":
        place = str(Path(place).expanduser().resolve())
    return f"{type(writer).__name__}:{kind}:{place}:{collection}"
