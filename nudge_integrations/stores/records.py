"""Reading a store's records back within its limits, and telling whether they hold what
the ledger says (bit for bit, or within float32 rounding where a store re-normalises)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import ShapeError
from nudge_integrations.stores.base import KeepsMarkers, StoreWriter, batches, read_batched
from nudge_integrations.stores.binding import TextReader
from nudge_integrations.stores.ledger import NudgeLedger, Operation, text_hash

#: How far a stored vector may be from what the ledger says and still count as it: float32
#: rounding, and stores that re-normalise vectors for cosine (measured: at most 6e-8).
ATOL = 2e-6

Vector = NDArray[np.float32]


def check_dimension(current: Mapping[str, Any], ledger: NudgeLedger) -> None:
    """Refuse a store whose vectors are not of the ledger's dimension (rebuilt with another
    embedding model since the swap), before anything is compared or written."""
    if ledger.dim is None or not current:
        return
    size = np.asarray(next(iter(current.values()))).size
    if size != ledger.dim:
        raise ShapeError(
            f"the store holds {size}-d vectors but its nudge ledger at {ledger.path} keeps "
            f"{ledger.dim}-d ones: the store was rebuilt with another embedding model since "
            "the swap, so the ledger's vectors cannot go back into it (nothing was written). "
            "If the rebuilt store is the one you want, the old ledger no longer applies: "
            "delete its folder (and call clear_markers(writer) if records still carry markers)"
        )


#: Vectors and text hashes a caller has read already, by id (they are not read again).
Seen = tuple[Mapping[str, Any], Mapping[str, str]]


def read_current(
    writer: StoreWriter,
    ledger: NudgeLedger,
    chunk: Sequence[str],
    texts: TextReader,
    size: int,
    seen: Seen | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """The vectors ``chunk``'s records hold (those the store has, text unchanged), and the
    ids whose text changed since the ledger was written (their vectors are not read);
    ``size`` ids a request, the store's dimension checked against the ledger's."""
    seen_vecs, seen_hashes = seen or ({}, {})
    unseen = [i for i in chunk if i not in seen_hashes]
    now = {i: seen_hashes[i] for i in chunk if i in seen_hashes}
    now.update({i: text_hash(t) for i, t in read_texts(texts, unseen, size).items()})
    changed = {i for i in chunk if i in now and now[i] != ledger.hash_of(i)}
    readable = [i for i in chunk if i not in changed]
    current = {i: seen_vecs[i] for i in readable if i in seen_vecs}
    current.update(read_vectors(writer, [i for i in readable if i not in current], size))
    check_dimension(current, ledger)
    return current, changed


def rows_hold(
    current: Sequence[Any], wanted: Sequence[Any], close: Sequence[bool]
) -> NDArray[np.bool_]:
    """Per row: does ``current`` hold ``wanted``, within :data:`ATOL` where ``close``, else
    bit for bit (a shape that differs never does)."""
    cur = [np.asarray(c, np.float32) for c in current]
    want = [np.asarray(w, np.float32) for w in wanted]
    if not cur:
        return np.zeros(0, dtype=bool)
    shape = want[0].shape
    if any(c.shape != shape for c in cur) or any(w.shape != shape for w in want):
        return np.array(
            [
                c.shape == w.shape
                and bool(np.all(np.abs(c - w) <= ATOL) if near else np.array_equal(c, w))
                for c, w, near in zip(cur, want, close, strict=True)
            ],
            dtype=bool,
        )
    a, b = np.stack(cur), np.stack(want)
    exact = np.all(a == b, axis=1)
    near = np.all(np.abs(a - b) <= ATOL, axis=1)
    return np.asarray(np.where(np.asarray(close, dtype=bool), near, exact), dtype=np.bool_)


def read_markers(
    writer: StoreWriter, ids: Sequence[str], size: int | None = None
) -> dict[str, str]:
    """Ledger paths recorded on the records (stores that keep metadata), by id, read in
    requests of at most ``size`` ids (default: the store's read limit)."""
    if not isinstance(writer, KeepsMarkers) or not ids:
        return {}
    return read_batched(writer.read_markers, ids, size or writer.limits.read)


def write_markers(writer: StoreWriter, marks: Mapping[str, str | None], size: int) -> None:
    """Set each record's marker to its value (None: removed), ``size`` records a request."""
    if not isinstance(writer, KeepsMarkers):
        return
    by_value: dict[str | None, list[str]] = {}
    for i, value in marks.items():
        by_value.setdefault(value, []).append(i)
    for value, ids in by_value.items():
        for chunk in batches(ids, size):
            writer.write_markers(chunk, value)


def read_texts(texts: TextReader, ids: Sequence[str], size: int) -> dict[str, str]:
    """Current text of ``ids`` (none without a reader), ``size`` ids a request."""
    if texts is None or not ids:
        return {}
    return read_batched(lambda chunk: texts(chunk), ids, size)


def read_vectors(writer: StoreWriter, ids: Sequence[str], size: int) -> dict[str, Any]:
    """Current vectors, ``size`` ids a request (some clients refuse an empty id list)."""
    return read_batched(writer.read, ids, size) if ids else {}


def describe(op: Operation) -> str:
    """An operation in words: what it brings the store from and to, how far it got."""
    src = "base vectors" if op.source is None else f"fit {op.source}"
    dst = "base vectors" if op.target is None else f"fit {op.target}"
    text = f"{op.kind} from {src} to {dst}: {op.done} of {op.n_batches} batches written"
    return text + (f"; {op.error}" if op.error else "")
