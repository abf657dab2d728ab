"""A Chroma collection (embedded, persistent or a server): vectors updated by id,
documents and metadata kept, every request within the client's max batch size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.compat.clients import chroma_client
from nudge_integrations.stores.base import MARKER, Limits, Location, MarkedWriter

#: Embedded Chroma's max batch size (SQLite's 32,766 variables over 6 per record), used
#: only where a client does not report one (an async server client answers -1).
DEFAULT_MAX_BATCH = 5461


def chroma_limits(collection: Any) -> Limits:
    """The collection's client's max batch size, for writes and for reads: Chroma refuses
    an add/update of more records, and a read by id binds one SQLite variable per id, so
    reads of more than ~32k ids fail with "too many SQL variables"."""
    size = int(chroma_client(collection).get_max_batch_size())
    size = size if size > 0 else DEFAULT_MAX_BATCH
    return Limits(read=size, write=size)


class ChromaWriter(MarkedWriter):
    """A Chroma collection: vectors updated by id, documents and metadata kept."""

    #: Chroma searches an HNSW graph: approximate.
    exact = False
    #: One ``update`` takes embeddings and metadatas together.
    writes_together = True

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.limits = chroma_limits(collection)
        space = (collection.metadata or {}).get("hnsw:space")
        if space is None:
            config = getattr(collection, "configuration_json", None) or {}
            space = (config.get("hnsw") or {}).get("space")
        self.similarity: str | None = {"ip": "dot", "cosine": "cosine", "l2": "l2", None: "l2"}.get(
            space
        )

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        for page, _ in self.pages(self.limits.read, include=[]):
            ids.extend(page)
        return ids

    def location(self) -> Location | None:
        settings = chroma_client(self.collection).get_settings()
        if settings.is_persistent and settings.persist_directory:
            return ("path", str(settings.persist_directory), self.collection.name)
        host = settings.chroma_server_host
        if host:
            return ("chroma", f"{host}-{settings.chroma_server_http_port}", self.collection.name)
        return None

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        got = self.collection.get(ids=ids, include=["metadatas"])
        return {
            str(i): str(m[MARKER])
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)
            if m and m.get(MARKER)
        }

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        self.collection.update(ids=ids, metadatas=[{MARKER: value} for _ in ids])

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        got = self.collection.get(ids=ids, include=["embeddings"])
        return {
            str(i): np.asarray(vec, dtype=np.float32)
            for i, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        ids = list(vectors)
        # one float32 matrix, as Chroma's own update takes it: converting each vector to a
        # list of Python floats first made a 30k-record swap 1.7x slower than that update
        rows = np.stack([np.asarray(vectors[i], dtype=np.float32) for i in ids])
        self.collection.update(ids=ids, embeddings=rows)

    def _write_together(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        # a record's vector and marker in one update (one request, as Chroma's own update
        # takes them): separate marker requests added 5-8 s to a 30k-record swap at 200k
        ids = list(vectors)
        rows = np.stack([np.asarray(vectors[i], dtype=np.float32) for i in ids])
        self.collection.update(
            ids=ids, embeddings=rows, metadatas=[{MARKER: marks[i]} for i in ids]
        )

    def count(self) -> int:
        return int(self.collection.count())

    def pages(self, size: int, include: list[Any]) -> Iterator[tuple[list[str], Any]]:
        """Every record, ``size`` at a time by offset: its ids and what ``include`` asks."""
        offset = 0
        while True:
            got = self.collection.get(limit=size, offset=offset, include=include)
            ids = [str(i) for i in got["ids"]]
            if not ids:
                return
            yield ids, got
            offset += len(ids)
            if len(ids) < size:
                return

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, ``batch`` at a time (within the read limit)."""
        for ids, got in self.pages(min(batch, self.limits.read), ["embeddings"]):
            yield ids, np.asarray(got["embeddings"], dtype=np.float32).reshape(len(ids), -1)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the collection's own search."""
        n = max(1, min(limit, self.count()))
        got = self.collection.query(
            query_embeddings=np.asarray(queries, np.float32).tolist(), n_results=n, include=[]
        )
        return [[str(i) for i in per] for per in got["ids"]]
