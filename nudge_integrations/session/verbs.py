"""The store verbs both adapters offer, written once: swap_in, reapply, revert, status,
finish, rollback, and their async forms. An adapter says how to bind its framework's
store object (``_session``) and what its fit swaps in (``_swap_inputs``). Every verb
checks its arguments (``core.arguments.checked``): a typo names the adapter's own class
and the nearest keyword."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core import NudgeResult
from nudge_integrations.core.arguments import checked, id_list, in_thread
from nudge_integrations.session.store import StoreSession
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import LedgerLike


class StoreVerbs:
    """Mixin: ledgered store verbs over ``_session(store, ledger)``.

    ``store`` is the framework's object (a LlamaIndex ``VectorStoreIndex`` or vector
    store, a LangChain ``VectorStore``); ``ledger`` a path, else the one this fit last
    used, else found beside the store. ``batch_size`` caps the records per request (never
    above the store's own limit); ``show_progress`` reports long operations (None: a bar
    on a terminal for large ones, log lines otherwise)."""

    #: What to do instead when a store refuses a store-native NUDGE-M fit.
    NATIVE_M_ADVICE: ClassVar[str] = ""
    ledger_: Path | None
    native_: bool

    def _session(self, store: Any, ledger: LedgerLike) -> StoreSession:
        raise NotImplementedError

    def _swap_inputs(
        self,
    ) -> tuple[NudgeResult, Mapping[str, NDArray[np.float32]], Mapping[str, str], str | None]:
        """The fit, the moved records' base vectors and fitted texts, the model's name."""
        raise NotImplementedError

    @checked
    def swap_in(
        self,
        store: Any,
        *,
        ledger: LedgerLike = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
        _allow_missing: bool = False,
    ) -> SwapReport:
        """Write the moved records' nudged vectors into ``store`` (same ids, text and
        metadata) through its nudge ledger: base vectors are kept there first, so
        :meth:`revert` works from any process. All or nothing: on a failure the store is
        restored. Records whose text changed since the fit are skipped and reported;
        NUDGE-M is refused by stores not ranking by inner product. Iterating the report
        gives the ids written."""
        session = self._session(store, ledger or self.ledger_)
        result, base, texts, model = self._swap_inputs()
        report = session.swap(
            result,
            base,
            texts,
            model=model,
            advice=self.NATIVE_M_ADVICE if self.native_ else None,
            allow_missing=_allow_missing,
            batch_size=batch_size,
            show_progress=show_progress,
        )
        self.ledger_ = report.ledger
        return report

    @checked
    def reapply(
        self,
        store: Any,
        *,
        ledger: LedgerLike = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SwapReport:
        """Write the nudge again after a re-index overwrote it (``index()``, re-adds).
        Records whose text changed since the fit, or that left the store, are skipped and
        reported (``changed``, ``missing``): refit to nudge them again."""
        return self.swap_in(
            store,
            ledger=ledger,
            batch_size=batch_size,
            show_progress=show_progress,
            _allow_missing=True,
        )

    @checked
    def revert(
        self,
        store: Any,
        ids: Sequence[str] | None = None,
        *,
        ledger: LedgerLike = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SwapReport:
        """Write the base vectors back from the store's ledger (of ``ids``, a list; default
        every record ever nudged there). Works unfitted and in a new process: the ledger
        is enough. Records gone from the store, or whose text changed, are skipped."""
        chosen = id_list(ids, "ids", verb="revert")
        session = self._session(store, ledger or self.ledger_)
        return session.revert(chosen, batch_size=batch_size, show_progress=show_progress)

    @checked
    def status(
        self,
        store: Any,
        *,
        ledger: LedgerLike = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> LedgerStatus:
        """Whether ``store`` holds base vectors, nudged vectors, or is half-swapped (every
        ledger record read back, ``batch_size`` a request)."""
        session = self._session(store, ledger or self.ledger_)
        return session.status(batch_size=batch_size, show_progress=show_progress)

    @checked
    def finish(
        self,
        store: Any,
        *,
        ledger: LedgerLike = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SwapReport:
        """Complete a swap or revert that was interrupted (a killed process, a failed
        rollback), from the ledger alone."""
        session = self._session(store, ledger or self.ledger_)
        return session.finish(batch_size=batch_size, show_progress=show_progress)

    @checked
    def rollback(
        self,
        store: Any,
        *,
        ledger: LedgerLike = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> SwapReport:
        """Undo a swap or revert that was interrupted: back to what the store held."""
        session = self._session(store, ledger or self.ledger_)
        return session.rollback(batch_size=batch_size, show_progress=show_progress)

    aswap_in = in_thread(swap_in, "aswap_in")
    areapply = in_thread(reapply, "areapply")
    arevert = in_thread(revert, "arevert")
    astatus = in_thread(status, "astatus")
    afinish = in_thread(finish, "afinish")
    arollback = in_thread(rollback, "arollback")
