"""A LlamaIndex index's nudge ledger from any process: status, revert, finish, rollback.

The ledger of a store on a local path (Chroma, Milvus Lite) lies beside it; that of a
store without one (``SimpleVectorStore``, FAISS) is keyed by the index's ``index_id``, so
an index reloaded with ``load_index_from_storage`` finds it. Pass ``ledger=`` to use
another folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from llama_index.core import VectorStoreIndex

from nudge_integrations.core.arguments import checked, id_list, in_thread
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.session import StoreSession
from nudge_integrations.stores import registry
from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport, TextReader
from nudge_integrations.stores.location import LedgerLike


def store_of(index: Any) -> Any:
    """The vector store behind an index (or the store itself)."""
    return index.vector_store if isinstance(index, VectorStoreIndex) else index


def bound_of(index: Any) -> Bound:
    """The index's store (or a bare store) bound through the store registry."""
    whole = index if isinstance(index, VectorStoreIndex) else None
    return registry.bind(store_of(index), "llama_index", index=whole)


def store_nodes(store: Any, ids: Sequence[str]) -> list[Any]:
    """Nodes of ``ids`` from a store that keeps text, within its read limit; a store the
    registry does not know is asked with its own ``get_nodes``."""
    try:
        found = registry.entry_for(store, "llama_index")
    except NudgeError:
        return list(store.get_nodes(node_ids=list(ids)))
    bound: Bound = found.binding("llama_index").bind(store)
    return bound.nodes(ids)


def nodes_by_id(index: Any, ids: Sequence[str]) -> list[Any]:
    """The index's nodes of the given ids (from its docstore, else a text-keeping store);
    absent ids are left out."""
    store = store_of(index)
    found: dict[str, Any] = {}
    if isinstance(index, VectorStoreIndex):
        got = index.docstore.get_nodes(list(ids), raise_error=False)
        found = {n.node_id: n for n in got if n is not None}
    rest = [i for i in ids if i not in found]
    if rest and getattr(store, "stores_text", False):
        with contextlib.suppress(NotImplementedError, ValueError, KeyError):
            found.update({n.node_id: n for n in store_nodes(store, rest) if n is not None})
    return [found[i] for i in ids if i in found]


def text_reader(index: Any) -> TextReader:
    """Reads the current text LlamaIndex embeds for nodes (None where it cannot be read)."""
    return bound_of(index).text_reader


def writer_of(index: Any) -> StoreWriter:
    """The writer of the index's store."""
    return bound_of(index).writer


def session_of(index: Any, ledger: LedgerLike = None) -> StoreSession:
    """The shared workflow over the index's store and its ledger."""
    return StoreSession(bound_of(index), ledger, what="node")


@checked
def status(
    index: Any,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> LedgerStatus:
    """Whether the index's store holds base vectors, nudged vectors, or is half-swapped
    (every ledger record read back, ``batch_size`` a request)."""
    return session_of(index, ledger).status(batch_size=batch_size, show_progress=show_progress)


@checked
def revert(
    index: Any,
    node_ids: Sequence[str] | None = None,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Write the base vectors back from the ledger (of ``node_ids``, a list; default every
    node); ``batch_size`` caps the records per request (never above the store's own
    limit)."""
    chosen = id_list(node_ids, "node_ids", verb="revert")
    return session_of(index, ledger).revert(
        chosen, batch_size=batch_size, show_progress=show_progress
    )


@checked
def finish(
    index: Any,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Complete a swap or revert that was interrupted (a killed process, a failed rollback)."""
    return session_of(index, ledger).finish(batch_size=batch_size, show_progress=show_progress)


@checked
def rollback(
    index: Any,
    *,
    ledger: LedgerLike = None,
    batch_size: int | None = None,
    show_progress: bool | None = None,
) -> SwapReport:
    """Undo a swap or revert that was interrupted: back to what the store held before it."""
    return session_of(index, ledger).rollback(batch_size=batch_size, show_progress=show_progress)


#: The async forms, as on the fitter and the engine: same signatures, each run in a worker
#: thread so it does not block the event loop.
astatus = in_thread(status, "astatus")
arevert = in_thread(revert, "arevert")
afinish = in_thread(finish, "afinish")
arollback = in_thread(rollback, "arollback")
