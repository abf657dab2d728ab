"""Where a store stands against its ledger: every ledger record read back from the store
within its limits and sorted into base, nudged, overwritten, changed or missing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nudge_integrations.stores.base import Limits, StoreWriter, batches
from nudge_integrations.stores.binding import TextReader
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.progress import Progress
from nudge_integrations.stores.records import describe, read_current, rows_hold
from nudge_integrations.stores.reports import LedgerStatus


def status(
    writer: StoreWriter,
    ledger: NudgeLedger,
    *,
    texts: TextReader = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> LedgerStatus:
    """Read every ledger record from the store and say where the store stands.

    Each record is compared with what the active fit says it holds first (so a nudge too
    small for the store's own rounding to keep still counts), then with the alternative;
    vectors that are neither were overwritten (a re-index). Read ``limits.read`` records a
    request (``batch_size`` lowers it)."""
    if not ledger.exists:
        raise LedgerError(f"no nudge ledger at {ledger.path}: nothing was swapped in there")
    limits = writer.limits.capped(batch_size)
    op = ledger.op
    fits = [ledger.fit(f) for f in {ledger.active, *((op.source, op.target) if op else ())}]
    nudged_vecs = [f.as_dict() for f in fits if f is not None]
    active = ledger.fit(ledger.active)
    held = set(ledger.held_back)
    expected = (
        {} if active is None else {i: v for i, v in active.as_dict().items() if i not in held}
    )
    out = LedgerStatus(
        state="base",
        ledger=ledger.path,
        active_fit=ledger.active,
        fit=None
        if active is None
        else {"variant": active.variant, "gamma": active.gamma, "model": active.model},
        operation=None if op is None else describe(op),
        last=ledger.last,
        updated=ledger.updated,
    )
    with Progress(len(ledger), "status: reading the store", show_progress) as bar:
        for chunk in batches(ledger.ids, limits.read):
            _classify(writer, ledger, chunk, texts, limits, expected, nudged_vecs, out)
            bar.update(len(chunk))
    present = set(expected) - set(out.changed) - set(out.missing)
    if op is not None:
        out.state = "half-swapped"
        out.note = (
            f"the {op.kind} was interrupted: finish() completes it, rollback() returns the "
            "store to what it held before (from this process or a new one)"
        )
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


def _classify(
    writer: StoreWriter,
    ledger: NudgeLedger,
    chunk: list[str],
    texts: TextReader,
    limits: Limits,
    expected: Mapping[str, Any],
    nudged_vecs: Sequence[Mapping[str, Any]],
    out: LedgerStatus,
) -> None:
    """Sort one request's worth of ledger records into ``out``'s lists."""
    current, changed = read_current(writer, ledger, chunk, texts, limits.read)
    present = [i for i in chunk if i in current]
    base = ledger.base(present)

    def holding(vectors: Mapping[str, Any]) -> set[str]:
        ids = [i for i in present if i in vectors]
        rows = rows_hold([current[i] for i in ids], [vectors[i] for i in ids], [True] * len(ids))
        return {i for i, ok in zip(ids, rows, strict=True) if ok}

    as_expected, as_base = holding(expected), holding(base)
    as_other: set[str] = set()
    for vectors in nudged_vecs:
        as_other |= holding(vectors)
    for i in chunk:
        if i in changed:
            out.changed.append(i)
        elif i not in current:
            out.missing.append(i)
        elif i in as_expected:
            out.nudged.append(i)
        elif i in as_base:
            out.base.append(i)
        elif i in as_other:
            out.nudged.append(i)
        else:
            out.overwritten.append(i)
