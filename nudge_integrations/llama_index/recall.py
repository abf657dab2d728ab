"""Recall of a LlamaIndex index's own retriever against exact search over its vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nudge_integrations.compat import llama_index as compat
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.llama_index.ledger import writer_of
from nudge_integrations.stores.recall import exact_ids, recall_at_k


def index_recall(
    index: Any, queries: Sequence[str] | Sequence[Sequence[float]] | Any, k: int = 10
) -> float:
    """Recall@``k`` of ``index.as_retriever(similarity_top_k=k)`` against exact search over
    the vectors the index's store holds (1.0: the store's search is exact on these queries).

    ``queries`` are strings (embedded with the index's embed model) or vectors. Measure
    before a swap, after it and after a revert.
    """
    from llama_index.core.schema import QueryBundle

    items = list(queries)
    if not items:
        raise NudgeError("no queries: recall needs at least one")
    if all(isinstance(q, str) for q in items):
        model = compat.index_embed_model(index)
        if model is None:
            raise NudgeError("text queries need the index's embed model; pass vectors instead")
        vecs = np.asarray([model.get_query_embedding(q) for q in items], dtype=np.float32)
    elif any(isinstance(q, str) for q in items):
        raise NudgeError("queries must be all strings or all vectors")
    else:
        vecs = np.asarray(items, dtype=np.float32)
    exact = exact_ids(writer_of(index), vecs, k)
    retriever = index.as_retriever(similarity_top_k=k)
    found = [
        [n.node.node_id for n in retriever.retrieve(QueryBundle("", embedding=v.tolist()))]
        for v in vecs
    ]
    return recall_at_k(found, exact, k)
