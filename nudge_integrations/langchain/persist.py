"""LangChain documents as JSON state for a saved fit (``session.persist`` writes the folder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

from nudge_integrations.session.persist import load_folder, save_folder

__all__ = ["documents_from_state", "documents_state", "load_folder", "save_folder"]


def documents_state(documents: Sequence[Document]) -> list[dict[str, Any]]:
    """Documents as JSON-ready dicts (id, text, metadata)."""
    return [{"id": d.id, "page_content": d.page_content, "metadata": d.metadata} for d in documents]


def documents_from_state(state: Sequence[Mapping[str, Any]]) -> list[Document]:
    """Documents back from :func:`documents_state`."""
    return [
        Document(id=d["id"], page_content=d["page_content"], metadata=d["metadata"]) for d in state
    ]
