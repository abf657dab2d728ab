"""Document ids, the key that ties QA pairs, fits and vector stores together."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.documents import Document

from nudge_integrations.core.errors import DuplicateIdError, NudgeError


def document_id(doc: Document, index: int, id_key: str | None = None) -> str:
    """``doc.metadata[id_key]`` when ``id_key`` is given and present, else ``doc.id``."""
    if not isinstance(doc, Document):
        raise NudgeError(f"document {index} is a {type(doc).__name__}, not a LangChain Document")
    if id_key is not None and doc.metadata.get(id_key) not in (None, ""):
        return str(doc.metadata[id_key])
    if doc.id:
        return str(doc.id)
    where = f"no metadata[{id_key!r}] and no id" if id_key is not None else "no id"
    raise NudgeError(
        f"document {index} has {where}: set Document(id=...) (the id your vector store "
        "uses), or pass id_key naming the metadata field that holds it"
    )


def document_ids(documents: Sequence[Document], id_key: str | None = None) -> list[str]:
    """Every document's id, checked: present and unique."""
    ids: list[str] = []
    seen: set[str] = set()
    for i, doc in enumerate(documents):
        doc_id = document_id(doc, i, id_key)
        if doc_id in seen:
            raise DuplicateIdError(f"document {i} repeats the id {doc_id!r} of an earlier one")
        seen.add(doc_id)
        ids.append(doc_id)
    return ids
