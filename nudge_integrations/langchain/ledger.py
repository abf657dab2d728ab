"""A LangChain vector store bound for the shared workflow, and its ledger's verbs from
any process: status, revert, finish, rollback.

These need only the store (and the ledger's path where the store cannot imply it, e.g.
an in-memory FAISS store without markers): no fitter, no embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from numpy.typing import NDArray

from nudge_integrations.core.arguments import checked, id_list, in_thread
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.session import StoreSession
from nudge_integrations.stores import registry
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import LedgerLike
from nudge_integrations.stores.progress import Progress


def session_of(store: Any, ledger: LedgerLike = None) -> StoreSession:
    """The shared workflow over this store and its ledger (remembered per store object)."""
    return StoreSession(registry.bind(store, "langchain"), ledger, obj=store, what="document")


def read_all(
    bound: Bound, show_progress: bool | None = False
) -> tuple[list[Document], dict[str, NDArray[np.float32]]]:
    """Every document the store holds (metadata without the nudge marker), and the
    vectors it returned, by id; read page by page within the store's limits, with
    progress as ``show_progress`` says (a page at a time; the total is not known)."""
    if bound.records is None:
        raise NudgeError(
            f"{bound.label} cannot list its records: fit from its Documents, or natively "
            "(native=True)"
        )
    docs: list[Document] = []
    vectors: dict[str, NDArray[np.float32]] = {}
    with Progress(None, "fit: reading the store", show_progress) as bar:
        for page in bound.records():
            for rec in page:
                docs.append(Document(id=rec.id, page_content=rec.text, metadata=rec.metadata))
                if rec.vector is not None:
                    vectors[rec.id] = np.asarray(rec.vector, dtype=np.float32)
            bar.update(len(page))
    return docs, vectors


@checked
def status(
    store: Any,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> LedgerStatus:
    """Whether the store holds base vectors, a fit's nudged vectors, or is half-swapped
    (every ledger record read back, ``batch_size`` a request)."""
    return session_of(store, ledger).status(batch_size=batch_size, show_progress=show_progress)


@checked
def revert(
    store: Any,
    ids: Sequence[str] | None = None,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Write the base vectors back from the ledger (of ``ids``, a list; default every
    record)."""
    chosen = id_list(ids, "ids", verb="revert")
    return session_of(store, ledger).revert(
        chosen, batch_size=batch_size, show_progress=show_progress
    )


@checked
def finish(
    store: Any,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Complete a swap or revert that was interrupted (a killed process, a failed rollback)."""
    return session_of(store, ledger).finish(batch_size=batch_size, show_progress=show_progress)


@checked
def rollback(
    store: Any,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Undo a swap or revert that was interrupted: back to what the store held before it."""
    return session_of(store, ledger).rollback(batch_size=batch_size, show_progress=show_progress)


#: The async forms, as on the fitter and the engine: same signatures, each run in a worker
#: thread so it does not block the event loop.
astatus = in_thread(status, "astatus")
arevert = in_thread(revert, "arevert")
afinish = in_thread(finish, "afinish")
arollback = in_thread(rollback, "arollback")
