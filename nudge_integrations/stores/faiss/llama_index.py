"""LlamaIndex's ``FaissVectorStore`` (flat indexes): rows mapped to node ids by the
index struct of the ``VectorStoreIndex`` over it; text in the index's docstore."""

from __future__ import annotations

from typing import Any

from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.faiss.writer import FaissFlatWriter
from nudge_integrations.stores.llama_index_bound import bound


def positions(index: Any) -> dict[str, int]:
    """Row of each node in a positional store (FAISS): the index struct maps row -> id."""
    return {
        nid: int(pos) for pos, nid in index.index_struct.nodes_dict.items() if str(pos).isdigit()
    }


def bind(store: Any, index: Any = None) -> Bound:
    """A ``FaissVectorStore`` bound for the lifecycle; without its ``index`` only its
    metric is known (reading or writing then says to pass the index)."""
    writer = FaissFlatWriter(store.client, None if index is None else positions(index))
    return bound(writer, store, index)
