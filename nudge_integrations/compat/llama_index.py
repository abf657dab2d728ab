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


# ``VectorIndexRetriever`` (what ``VectorStoreIndex.as_retriever()`` returns) keeps its
# settings in private attributes only; ``similarity_top_k`` is its one public one.


def retriever_index(retriever: Any) -> Any:
    """The index a retriever searches (``VectorIndexRetriever`` and the other index
    retrievers), or None for one without. Checked: llama-index-core 0.14.23 (the floor), 0.14.25."""
    return getattr(retriever, "_index", None)


def retriever_nodes(retriever: Any) -> Any:
    """The nodes a retriever holds itself (e.g. a BM25 retriever's), or None for one that
    reads an index. Checked: llama-index-core 0.14.23 (the floor), 0.14.25."""
    return getattr(retriever, "_nodes", None)


def retriever_vector_store(retriever: Any) -> Any:
    """The vector store a ``VectorIndexRetriever`` queries. Checked: llama-index-core
    0.14.23 (the floor), 0.14.25."""
    return retriever._vector_store


def retriever_embed_model(retriever: Any) -> Any:
    """The model a ``VectorIndexRetriever`` embeds its queries with (its own, else its
    index's). Checked: llama-index-core 0.14.23 (the floor), 0.14.25."""
    return retriever._embed_model


def retriever_query_mode(retriever: Any) -> Any:
    """A ``VectorIndexRetriever``'s ``VectorStoreQueryMode``. Checked: llama-index-core
    0.14.23 (the floor), 0.14.25."""
    return retriever._vector_store_query_mode


def retriever_filters(retriever: Any) -> Any:
    """A ``VectorIndexRetriever``'s ``MetadataFilters`` (None: none). Checked:
    llama-index-core 0.14.23 (the floor), 0.14.25."""
    return retriever._filters


def retriever_doc_ids(retriever: Any) -> list[str] | None:
    """The ref doc ids a ``VectorIndexRetriever`` is restricted to (None: all). Checked:
    llama-index-core 0.14.23 (the floor), 0.14.25."""
    doc_ids: list[str] | None = retriever._doc_ids
    return doc_ids


def retriever_node_ids(retriever: Any) -> list[str] | None:
    """The node ids a ``VectorIndexRetriever`` is restricted to (None: all). Checked:
    llama-index-core 0.14.23 (the floor), 0.14.25."""
    node_ids: list[str] | None = retriever._node_ids
    return node_ids


def retriever_store_kwargs(retriever: Any) -> dict[str, Any]:
    """The ``vector_store_kwargs`` a ``VectorIndexRetriever`` passes to every store query.
    Checked: llama-index-core 0.14.23 (the floor), 0.14.25."""
    kwargs: dict[str, Any] = retriever._kwargs
    return kwargs


def index_embed_model(index: Any) -> Any:
    """The embed model a ``VectorStoreIndex`` embeds with (None for an index without one).
    Checked: llama-index-core 0.14.23 (the floor), 0.14.25."""
    return getattr(index, "_embed_model", None)
