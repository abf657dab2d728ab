"""A LangChain store's nudge ledger from any process: status, revert, finish, rollback.

These need only the store (and the ledger's path where the store cannot imply it, e.g.
an in-memory FAISS store without markers): no fitter, no embeddings.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nudge_integrations.stores import lifecycle, registry
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import LedgerLike, find_ledger

#: The ledger each live store object was last swapped through, so a store without a
#: location or markers (a reverted InMemoryVectorStore) still finds it in this process.
_LEDGERS: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()


def remember(store: Any, path: Path) -> None:
    with contextlib.suppress(TypeError):  # an unhashable store: markers and paths only
        _LEDGERS[store] = Path(path)


def remembered(store: Any) -> Path | None:
    try:
        return _LEDGERS.get(store)
    except TypeError:
        return None


def open_ledger(store: Any, ledger: LedgerLike = None) -> tuple[Bound, NudgeLedger]:
    """The store, bound through the store registry, and its existing ledger (an error
    when it has none)."""
    bound = registry.bind(store, "langchain")
    writer = bound.writer
    found = find_ledger(writer, ledger or remembered(store), writer.all_ids())
    if found is None or not found.exists:
        where = f" at {found.path}" if found is not None else ""
        raise LedgerError(
            f"found no nudge ledger for this {type(store).__name__}{where}: nothing nudged "
            "is swapped in, or its ledger is elsewhere (pass its path, ledger=...)"
        )
    return bound, found


def status(store: Any, *, ledger: LedgerLike = None) -> LedgerStatus:
    """Whether the store holds base vectors, a fit's nudged vectors, or is half-swapped."""
    bound = registry.bind(store, "langchain")
    writer = bound.writer
    found = find_ledger(writer, ledger or remembered(store), writer.all_ids())
    if found is None or not found.exists:
        return lifecycle.never_nudged(type(store).__name__)
    return lifecycle.status(writer, found, texts=bound.texts)


def revert(
    store: Any, ids: Sequence[str] | None = None, *, ledger: LedgerLike = None
) -> SwapReport:
    """Write the base vectors back from the ledger (of ``ids``, default every record)."""
    bound, found = open_ledger(store, ledger)
    report = lifecycle.revert(bound.writer, found, ids, texts=bound.texts)
    lifecycle.warn_skipped(report, "documents")
    return report


def finish(store: Any, *, ledger: LedgerLike = None) -> SwapReport:
    """Complete a swap or revert that was interrupted (a killed process, a failed rollback)."""
    bound, found = open_ledger(store, ledger)
    report = lifecycle.finish(bound.writer, found, texts=bound.texts)
    lifecycle.warn_skipped(report, "documents")
    return report


def rollback(store: Any, *, ledger: LedgerLike = None) -> SwapReport:
    """Undo a swap or revert that was interrupted: back to what the store held before it."""
    bound, found = open_ledger(store, ledger)
    report = lifecycle.rollback(bound.writer, found, texts=bound.texts)
    lifecycle.warn_skipped(report, "documents")
    return report
