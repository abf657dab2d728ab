"""Where a store's nudge ledger lives, so a new process finds it without being told.

In order: the path the user names; the path recorded in the records' ``nudge_ledger``
markers (stores that keep metadata); beside the store's own files for stores on a local
path (``<path>.nudge-ledger/<collection>``); under ``$NUDGE_CACHE_DIR/ledgers`` keyed by
the server address and collection for servers, or by a stable key the adapter supplies
(a LlamaIndex ``index_id``); otherwise a new folder there, named in the markers and in
the warning that says to pass it on.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from nudge_integrations.core.cache import default_cache_dir
from nudge_integrations.stores.base import MARKER, KeepsMarkers, Located, StoreWriter, batches
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.lifecycle import read_markers, store_name

LedgerLike = str | os.PathLike[str] | NudgeLedger | None

#: Record ids, or how to list them: a store's every id is listed only when needed.
IdsLike = Sequence[str] | Callable[[], Sequence[str]]


def _listed(ids: IdsLike) -> list[str]:
    """``ids`` as a list, listing them (e.g. every id in the store) only now."""
    return list(ids() if callable(ids) else ids)


def ledger_root() -> Path:
    """``$NUDGE_LEDGER_DIR``, else ``$NUDGE_CACHE_DIR/ledgers`` (``~/.cache/...``)."""
    env = os.environ.get("NUDGE_LEDGER_DIR")
    return Path(env) if env else default_cache_dir() / "ledgers"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120] or "store"


def default_location(writer: StoreWriter, key: str | None = None) -> Path | None:
    """The ledger folder a store implies: beside a local store, keyed for a server, or
    keyed by ``key``; None for a store with no stable identity."""
    found = writer.location() if isinstance(writer, Located) else None
    if found is not None:
        kind, place, collection = found
        if kind == "path":
            p = Path(place).expanduser().resolve()
            return p.parent / f"{p.name}.nudge-ledger" / _slug(collection)
        return ledger_root() / _slug(f"{kind}-{place}") / _slug(collection)
    if key:
        return ledger_root() / _slug(key)
    return None


def find_ledger(
    writer: StoreWriter, ledger: LedgerLike, ids: IdsLike, *, key: str | None = None
) -> NudgeLedger | None:
    """The existing ledger of a store, or None when it has none (nothing was nudged).
    Markers of ``ids`` (listed only when they must be read) are read within the store's
    read limit.

    Raises when records carry nudge markers but their ledger is gone: their current
    vectors are nudged and must not be taken as the base.
    """
    if ledger is not None:
        named = ledger if isinstance(ledger, NudgeLedger) else NudgeLedger(ledger)
        _check_named(writer, named, ids, key)
        return named
    default = default_location(writer, key)
    if default is not None and NudgeLedger(default).exists:
        return NudgeLedger(default)
    marks = read_markers(writer, _listed(ids))
    paths = sorted(set(marks.values()))
    for p in paths:
        if NudgeLedger(p).exists:
            return NudgeLedger(p)
    if marks:
        raise LedgerError(
            f"{len(marks)} records of this store carry nudge markers ({MARKER}) pointing "
            f"at the ledger {paths[0]}, which is missing: their vectors are nudged, and "
            "fitting on them would compound the nudge. Restore that folder, or pass the "
            "ledger's path (ledger=...); if the base vectors are lost for good, re-embed "
            "those records (or clear the markers with clear_markers) and fit again"
        )
    return None


def ledger_for_write(
    writer: StoreWriter, ledger: LedgerLike, ids: IdsLike, *, key: str | None = None
) -> NudgeLedger:
    """The ledger a swap writes to: the store's existing one, its implied location, or a
    new folder under :func:`ledger_root` (with a warning naming it)."""
    found = find_ledger(writer, ledger, ids, key=key)
    if found is not None:
        return found
    default = default_location(writer, key)
    if default is not None:
        return NudgeLedger(default)
    path = ledger_root() / f"{_slug(type(writer).__name__)}-{uuid.uuid4().hex[:12]}"
    if not isinstance(writer, KeepsMarkers):
        warnings.warn(
            f"the nudge ledger of this {type(writer).__name__} is at {path}; nothing in the "
            f"store points there, so pass ledger={str(path)!r} to revert or refit in "
            "another process",
            stacklevel=3,
        )
    return NudgeLedger(path)


def clear_markers(writer: StoreWriter, ids: Sequence[str] | None = None) -> int:
    """Remove ``nudge_ledger`` markers (all, or of ``ids``); returns how many were set.
    Only for a store whose ledger is lost and whose vectors were re-embedded. Markers are
    read and removed within the store's limits."""
    if not isinstance(writer, KeepsMarkers):
        return 0
    chosen = list(writer.all_ids() if ids is None else ids)
    marks = read_markers(writer, chosen)
    for chunk in batches(list(marks), writer.limits.write):
        writer.write_markers(chunk, None)
    return len(marks)


def _where(store: str) -> str:
    """A ledger's store description (``Writer:kind:place:collection``) without the writer's
    class name: one store may be written through two classes (e.g. Qdrant local mode with
    and without an in-place scan), or a class renamed, and stays the same store."""
    return store.split(":", 1)[1] if ":" in store else store


def _check_named(writer: StoreWriter, named: NudgeLedger, ids: IdsLike, key: str | None) -> None:
    """Refuse a ledger path that is not this store's: taking a nudged store's vectors as
    the base (a typo in the path), or rewriting another store's ledger. A ledger the
    store's location confirms has only its own records' markers read, not every record's
    (status and revert of a large store would otherwise read them all)."""
    located = isinstance(writer, Located) and writer.location() is not None
    confirmed = named.exists and bool(named.store) and located
    if confirmed and _where(named.store or "") != _where(store_name(writer)):
        raise LedgerError(
            f"the ledger at {named.path} belongs to another store ({named.store}), not "
            f"this one ({store_name(writer)}): pass this store's ledger, or none"
        )
    default = default_location(writer, key)
    if default is not None and default != named.path and NudgeLedger(default).exists:
        raise LedgerError(
            f"this store's ledger is at {default}, not {named.path}: pass ledger=None (it is "
            "found beside the store) or that path"
        )
    chosen = list(named.ids) if confirmed else _listed(ids)
    marks = {Path(p).resolve() for p in read_markers(writer, chosen).values()}
    others = sorted(str(p) for p in marks if p != named.path)
    if others:
        raise LedgerError(
            f"records of this store are marked as nudged with the ledger at {others[0]}, not "
            f"{named.path}: pass that path (or none), so their base vectors come from it"
        )
    if marks and not named.exists:
        raise LedgerError(
            f"records of this store are marked as nudged with the ledger at {named.path}, "
            "which is missing: their vectors are nudged, and fitting on them would compound "
            "the nudge. Restore that folder; if the base vectors are lost for good, re-embed "
            "those records (or clear the markers with clear_markers) and fit again"
        )
