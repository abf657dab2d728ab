"""Private attributes of LlamaIndex vector stores, one function per read, each with the
versions it was checked against."""

from __future__ import annotations

from typing import Any


def chroma_collection(store: Any) -> Any:
    """A ``ChromaVectorStore``'s Chroma collection. Checked: llama-index-core 0.14.25,
    llama-index-vector-stores-chroma 0.6.0."""
    return store._collection
