"""One store's ledgered work for either adapter: find its ledger, take bases from it,
read a store-native fit's inputs, swap, revert, reapply, finish, roll back, status.

An adapter binds its framework's store object (``stores.registry.bind``) and hands the
:class:`~nudge_integrations.stores.binding.Bound` here; what is written, checked and
reported is the same for LlamaIndex and LangChain. Every verb checks ``batch_size`` (a
whole number >= 1) and ``ids`` (a list, not a bare string) before it reads the store.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core import NudgeResult
from nudge_integrations.core.arguments import id_list, optional_positive_int
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.sources import is_record_source
from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.base import KeepsMarkers, require_inner_product
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger, text_hash
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import LedgerLike, find_ledger, ledger_for_write
from nudge_integrations.stores.native_fit import NativeInputs, native_inputs

#: The ledger each live store object was last swapped through, so a store without a
#: location or markers (a reverted in-memory store) still finds it in this process.
_LEDGERS: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()


def remember(obj: Any, path: Path) -> None:
    """Note the ledger a live store object was swapped through."""
    with contextlib.suppress(TypeError):  # an unhashable store: markers and paths only
        _LEDGERS[obj] = Path(path)


def remembered(obj: Any) -> Path | None:
    """The ledger a live store object was last swapped through in this process."""
    try:
        return _LEDGERS.get(obj)
    except TypeError:
        return None


class StoreSession:
    """A bound store and the ledger it is nudged through (``ledger``: a path the user
    names, else found beside the store, through its records' markers, or by key).

    ``obj`` is the framework's store object (remembered with its ledger); ``what`` names
    its records in messages ("node", "document")."""

    def __init__(
        self, bound: Bound, ledger: LedgerLike = None, *, obj: Any = None, what: str = "record"
    ) -> None:
        self.bound = bound
        self.obj = obj
        self.what = what
        self.ledger: LedgerLike = ledger or (remembered(obj) if obj is not None else None)

    @property
    def writer(self) -> Any:
        return self.bound.writer

    # ---------------------------------------------------------------- finding the ledger
    def find(self, ids: Sequence[str] | None = None) -> NudgeLedger | None:
        """The store's existing ledger (records' markers read for ``ids``, default every
        record), or None when nothing was ever swapped in."""
        chosen = self.writer.all_ids if ids is None else list(ids)
        found = find_ledger(self.writer, self.ledger, chosen, key=self.bound.key)
        return found if found is not None and found.exists else None

    def open(self) -> NudgeLedger:
        """The store's existing ledger, or an error saying there is none."""
        found = self.find()
        if found is None:
            raise LedgerError(
                f"found no nudge ledger for this {self.bound.label}: nothing nudged is "
                "swapped in, or its ledger is elsewhere (pass its path, ledger=...)"
            )
        return found

    def bases_from_ledger(
        self,
        vectors: dict[str, NDArray[np.float32]],
        texts: Mapping[str, str],
        ids: Sequence[str],
    ) -> tuple[Path | None, list[str]]:
        """Replace, in ``vectors`` read from the store, the vector of every record the
        ledger keeps (text unchanged) by its base; the ledger is looked up through the
        markers of ``ids``. Returns the ledger and the replaced ids."""
        found = self.find(ids)
        if found is None:
            return None, []
        return found.path, lifecycle.base_from_ledger(found, vectors, texts)

    def native_inputs(self, named: Sequence[str]) -> NativeInputs:
        """A store-native fit's inputs: the named records' text and base vectors (the
        ledger's where it keeps them); refuses a store with no native search."""
        if not is_record_source(self.writer):
            raise NudgeError(
                f"{self.bound.label} has no store-native search in nudge-integrations yet: "
                "fit without native=True (which reads the store into memory)"
            )
        return native_inputs(
            self.bound.text_reader,
            self.writer,
            list(named),
            self.ledger,
            key=self.bound.key,
            what=self.what,
            label=self.bound.label,
        )

    # ---------------------------------------------------------------- transitions
    def swap(
        self,
        result: NudgeResult,
        base: Mapping[str, NDArray[np.float32]],
        texts: Mapping[str, str],
        *,
        model: str | None,
        advice: str | None = None,
        allow_missing: bool = False,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SwapReport:
        """Swap a fit's moved records into the store through its ledger (bases first; all
        or nothing). ``base`` and ``texts``: each moved record's base vector and the text
        it was fitted with. NUDGE-M is refused by a store not ranking by inner product
        (``advice``: what to do instead, where the default advice does not apply)."""
        batch_size = optional_positive_int(batch_size, "batch_size")
        if result.variant == "M":
            note = self.bound.metric_note
            require_inner_product(self.writer.similarity, self.bound.label, advice, note=note)
        moved = {str(i): v for i, v in result.as_dict().items()}
        found = ledger_for_write(self.writer, self.ledger, list(moved), key=self.bound.key)
        report = lifecycle.swap(
            self.writer,
            found,
            moved,
            {i: base[i] for i in moved},
            {i: text_hash(texts[i]) for i in moved},
            variant=result.variant,
            gamma=result.gamma,
            model=model,
            dim=result.dim,
            texts=self.bound.text_reader,
            allow_missing=allow_missing,
            batch_size=batch_size,
            show_progress=show_progress,
        )
        return self._done(found, report)

    def revert(
        self,
        ids: Sequence[str] | None = None,
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SwapReport:
        """Write the base vectors back (of ``ids``, a list; default every record ever
        nudged)."""
        chosen = id_list(ids, "ids", verb="revert")
        batch_size = optional_positive_int(batch_size, "batch_size")
        found = self.open()
        report = lifecycle.revert(
            self.writer,
            found,
            chosen,
            texts=self.bound.text_reader,
            batch_size=batch_size,
            show_progress=show_progress,
        )
        return self._done(found, report)

    def finish(
        self, *, batch_size: int | None = None, show_progress: bool | None = None
    ) -> SwapReport:
        """Complete an interrupted swap or revert (a killed process, a failed rollback)."""
        batch_size = optional_positive_int(batch_size, "batch_size")
        found = self.open()
        report = lifecycle.finish(
            self.writer,
            found,
            texts=self.bound.text_reader,
            batch_size=batch_size,
            show_progress=show_progress,
        )
        return self._done(found, report)

    def rollback(
        self, *, batch_size: int | None = None, show_progress: bool | None = None
    ) -> SwapReport:
        """Undo an interrupted swap or revert: back to what the store held before it."""
        batch_size = optional_positive_int(batch_size, "batch_size")
        found = self.open()
        report = lifecycle.rollback(
            self.writer,
            found,
            texts=self.bound.text_reader,
            batch_size=batch_size,
            show_progress=show_progress,
        )
        return self._done(found, report)

    def status(
        self, *, batch_size: int | None = None, show_progress: bool | None = None
    ) -> LedgerStatus:
        """Where the store stands against its ledger (base, nudged, half-swapped, ...):
        every ledger record read back, ``batch_size`` records a request."""
        batch_size = optional_positive_int(batch_size, "batch_size")
        found = self.find()
        if found is None:
            marked = isinstance(self.writer, KeepsMarkers)
            return lifecycle.never_nudged(self.bound.label, keeps_markers=marked)
        return lifecycle.status(
            self.writer,
            found,
            texts=self.bound.text_reader,
            batch_size=batch_size,
            show_progress=show_progress,
        )

    def _done(self, found: NudgeLedger, report: SwapReport) -> SwapReport:
        """Save the store (where it needs it), remember its ledger, warn about skips."""
        if self.bound.save is not None and (report.written or report.restored):
            self.bound.save()
        if self.obj is not None:
            remember(self.obj, found.path)
        self.ledger = found.path
        lifecycle.warn_skipped(report, f"{self.what}s")
        return report
