"""Private attributes of LangChain vector stores, one function per read, each with the
versions it was checked against."""

from __future__ import annotations

from typing import Any


def chroma_collection(store: Any) -> Any:
    """A ``langchain_chroma.Chroma``'s collection. Checked: langchain-chroma 1.1.0."""
    return store._collection


def faiss_normalizes(store: Any) -> bool:
    """Whether a ``FAISS`` store L2-normalises the vectors it adds and searches. Checked:
    langchain-community 0.4.2."""
    return bool(getattr(store, "_normalize_L2", False))


def docstore_table(docstore: Any) -> dict[str, Any] | None:
    """The dict behind an ``InMemoryDocstore`` (None for a docstore without one, which
    cannot be updated in place). Checked: langchain-community 0.4.2."""
    table = getattr(docstore, "_dict", None)
    return table if isinstance(table, dict) else None


def milvus_primary_field(store: Any) -> str:
    """A ``langchain_milvus.Milvus``'s primary-key field. Checked: langchain-milvus 0.3.3."""
    return str(store._primary_field)


def milvus_text_field(store: Any) -> str:
    """A ``Milvus`` store's text field. Checked: langchain-milvus 0.3.3."""
    return str(store._text_field)


def milvus_vector_fields(store: Any) -> list[str]:
    """A ``Milvus`` store's vector field(s), as a list. Checked: langchain-milvus 0.3.3."""
    field = store._vector_field
    return [str(f) for f in field] if isinstance(field, list | tuple) else [str(field)]


def milvus_metadata_field(store: Any) -> str | None:
    """A ``Milvus`` store's JSON metadata field (None: metadata in dynamic fields).
    Checked: langchain-milvus 0.3.3."""
    field = getattr(store, "_metadata_field", None)
    return str(field) if field else None


def milvus_connection_args(store: Any) -> dict[str, Any]:
    """The connection arguments a ``Milvus`` store was made with (its ``uri``). Checked:
    langchain-milvus 0.3.3."""
    return dict(getattr(store, "_connection_args", None) or {})
