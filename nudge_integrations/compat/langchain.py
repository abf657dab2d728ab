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


def lancedb_table(store: Any) -> Any:
    """A ``LanceDB`` store's own table handle (None before documents are added; the store
    opens a fresh one with ``get_table()``). Checked: langchain-community 0.4.2."""
    return getattr(store, "_table", None)


def lancedb_table_name(store: Any) -> str:
    """The table a ``LanceDB`` store reads and writes. Checked: langchain-community 0.4.2."""
    return str(store._table_name)


def lancedb_columns(store: Any) -> tuple[str, str, str]:
    """A ``LanceDB`` store's (id, text, vector) column names. Checked: langchain-community
    0.4.2 (``_id_key``, ``_text_key``, ``_vector_key``)."""
    return str(store._id_key), str(store._text_key), str(store._vector_key)


def pgvector_engine(store: Any) -> Any:
    """A ``langchain_postgres.PGVector``'s sync SQLAlchemy engine (None with
    ``async_mode=True``). Checked: langchain-postgres 0.0.19."""
    return getattr(store, "_engine", None)


def pgvector_distance(store: Any) -> str:
    """A ``PGVector``'s distance strategy's value (``cosine``, ``l2``, ``inner``). Checked:
    langchain-postgres 0.0.19."""
    return str(getattr(store._distance_strategy, "value", "")).lower()
