"""Private attributes of LlamaIndex vector stores, one function per read, each with the
versions it was checked against."""

from __future__ import annotations

from typing import Any


def chroma_collection(store: Any) -> Any:
    """A ``ChromaVectorStore``'s Chroma collection. Checked: llama-index-core 0.14.25,
    llama-index-vector-stores-chroma 0.6.0."""
    return store._collection


def qdrant_client(store: Any) -> Any:
    """A ``QdrantVectorStore``'s sync ``QdrantClient`` (None when it was given only an
    async one). Checked: llama-index-vector-stores-qdrant 0.10.4."""
    return getattr(store, "_client", None)


def lancedb_table(store: Any) -> Any:
    """A ``LanceDBVectorStore``'s table handle (None before its first nodes are added).
    Checked: llama-index-vector-stores-lancedb 0.6.0."""
    return getattr(store, "_table", None)


def lancedb_table_name(store: Any) -> str:
    """The table a ``LanceDBVectorStore`` reads and writes. Checked:
    llama-index-vector-stores-lancedb 0.6.0."""
    return str(store._table_name)


def pgvector_engine(store: Any) -> Any:
    """A ``PGVectorStore``'s sync SQLAlchemy engine, made (with its table) on first use.
    Checked: llama-index-vector-stores-postgres 0.9.0 (``_initialize``, ``_engine``)."""
    store._initialize()
    return store._engine


def pgvector_table(store: Any) -> Any:
    """The SQLAlchemy ``Table`` a ``PGVectorStore`` keeps its nodes in (``node_id``,
    ``embedding``, ``metadata_``...). Checked: llama-index-vector-stores-postgres 0.9.0."""
    return store._table_class.__table__


def pgvector_custom_query(store: Any) -> bool:
    """Whether a ``PGVectorStore`` was given its own query function (then what it ranks by
    is unknown). Checked: llama-index-vector-stores-postgres 0.9.0."""
    return store._customize_query_fn is not None
