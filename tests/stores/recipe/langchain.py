"""The recipe store for LangChain: ``SqliteLangChainStore``, a minimal ``VectorStore`` over
a SQLite table, and ``bind``, which the registry calls to hand it to the lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.markers import without_marker

from .sqlite import Row, SqliteTable
from .writer import SqliteWriter, check


class SqliteLangChainStore(VectorStore):
    """Documents, their metadata and vectors in a SQLite table, searched by inner product."""

    def __init__(self, embedding: Embeddings, path: str | Path, table: str = "records") -> None:
        self.embedding = embedding
        self.table = SqliteTable(path, table)

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        given: list[str | None] = list(ids) if ids else [None] * len(texts)
        ids = [str(i) if i else str(uuid.uuid4()) for i in given]
        metas = metadatas or [{} for _ in texts]
        vectors = self.embedding.embed_documents(texts)
        self.table.upsert(
            Row(i, t, dict(m), v)  # type: ignore[arg-type]
            for i, t, m, v in zip(ids, texts, metas, vectors, strict=True)
        )
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        self.table.delete(ids if ids is not None else self.table.ids())
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        rows = self.table.get(list(ids))
        return [
            Document(id=r.id, page_content=r.text, metadata=r.metadata)
            for r in (rows[i] for i in ids if i in rows)
        ]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        return self.get_by_ids([i for i, _ in self.table.search(embedding, k)])

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return self.similarity_search_by_vector(self.embedding.embed_query(query), k)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | Path = ":memory:",
        table: str = "records",
        **kwargs: Any,
    ) -> SqliteLangChainStore:
        store = cls(embedding, path, table)
        store.add_texts(texts, metadatas, ids=ids)
        return store


def bind(store: SqliteLangChainStore) -> Bound:
    """A ``SqliteLangChainStore`` bound for the lifecycle."""
    writer = SqliteWriter(store.table)

    def read_texts(ids: list[str]) -> dict[str, str]:
        rows = store.table.get(check("text read", ids, writer.limits.read))
        return {i: r.text for i, r in rows.items()}

    def records() -> Iterator[list[Record]]:
        after: str | None = None
        while page := store.table.page(after, writer.limits.read):
            yield [Record(r.id, r.text, without_marker(r.metadata), r.vector) for r in page]
            after = page[-1].id

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
