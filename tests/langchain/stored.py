"""What a LangChain store holds, read through the store registry's binding (as the
adapter reads it): its writer, and its documents (metadata without the nudge marker)."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document

from nudge_integrations.stores import registry
from nudge_integrations.stores.base import StoreWriter


def writer_of(store: Any) -> StoreWriter:
    """The store's writer."""
    return registry.bind(store, "langchain").writer


def documents(store: Any) -> list[Document]:
    """Every document the store holds, page by page."""
    bound = registry.bind(store, "langchain")
    assert bound.records is not None
    return [
        Document(id=r.id, page_content=r.text, metadata=r.metadata)
        for page in bound.records()
        for r in page
    ]
