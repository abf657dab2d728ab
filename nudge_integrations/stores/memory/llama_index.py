"""LlamaIndex's ``SimpleVectorStore`` (its default, in memory): vectors only; text
comes from the index's docstore."""

from __future__ import annotations

from typing import Any

from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.llama_index_bound import bound
from nudge_integrations.stores.memory.writer import SimpleWriter


def bind(store: Any, index: Any = None) -> Bound:
    """A ``SimpleVectorStore`` (behind ``index`` when given) bound for the lifecycle."""
    return bound(SimpleWriter(store), store, index)
