"""Writers over native vector-store clients: FAISS flat indexes, Chroma collections,
Milvus clients, Qdrant clients. Each imports its client library only when used."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.search import chunk_rows, scan_chunks
from nudge_integrations.stores.base import MARKER, Limits

#: (kind, place, collection): "path" for a store on a local path, else a server address.
Location = tuple[str, str, str]


class FaissFlatWriter:
    """A flat FAISS index; ``position_of`` maps ids to rows (the framework keeps that map)."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

    def __init__(
        self, index: Any, position_of: Mapping[str, int], *, path: str | None = None
    ) -> None:
        import faiss

        self.path = path

        flat = faiss.downcast_index(index)
        if not isinstance(flat, faiss.IndexFlat):
            raise NudgeError(
                f"only flat FAISS indexes can be updated in place, this one is "
                f"{type(flat).__name__}: rebuild the index from the nudged vectors"
            )
        self.index = flat
        self._owner = index  # the downcast proxy does not keep the index it views alive
        self.position_of = dict(position_of)
        self.similarity: str | None = {
            faiss.METRIC_INNER_PRODUCT: "dot",
            faiss.METRIC_L2: "l2",
        }.get(flat.metric_type)

    def all_ids(self) -> list[str]:
        return list(self.position_of)

    def location(self) -> Location | None:
        """The index file, when the index was read from one (its ledger lies beside it)."""
        return ("path", self.path, "faiss") if self.path else None

    def _rows(self) -> NDArray[np.float32]:
        import faiss

        data = faiss.rev_swig_ptr(self.index.get_xb(), self.index.ntotal * self.index.d)
        return np.asarray(data).reshape(self.index.ntotal, self.index.d)

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        rows = self._rows()
        return {i: rows[self.position_of[i]].copy() for i in ids if i in self.position_of}

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        rows = self._rows()
        for i, vec in vectors.items():
            rows[self.position_of[i]] = vec

    #: A flat index searches exhaustively.
    exact = True

    def count(self) -> int:
        return int(self.index.ntotal)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the store's own exact search."""
        return self.nearest_outside(queries, limit, set())

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query by the index's own exact search, ``skip`` left out by an
        id selector (one pass, no over-fetching)."""
        import faiss

        id_of = {p: i for i, p in self.position_of.items()}
        gone = np.asarray(sorted(self.position_of[i] for i in skip if i in self.position_of))
        params = None
        if len(gone):
            batch = faiss.IDSelectorBatch(gone.astype(np.int64))
            outside = faiss.IDSelectorNot(batch)
            params = faiss.SearchParameters()
            params.sel = outside  # ``batch`` and ``outside`` stay alive until the search
        k = max(1, min(limit, self.index.ntotal))
        q = np.ascontiguousarray(queries, dtype=np.float32)
        _, rows = self.index.search(q, k, params=params)
        return [[id_of[int(r)] for r in row if r >= 0 and int(r) in id_of] for row in rows]


class ChromaWriter:
    """A Chroma collection: vectors updated by id, documents and metadata kept."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        space = (collection.metadata or {}).get("hnsw:space")
        if space is None:
            config = getattr(collection, "configuration_json", None) or {}
            space = (config.get("hnsw") or {}).get("space")
        self.similarity: str | None = {"ip": "dot", "cosine": "cosine", "l2": "l2", None: "l2"}.get(
            space
        )

    def all_ids(self) -> list[str]:
        return [str(i) for i in self.collection.get(include=[])["ids"]]

    def location(self) -> Location | None:
        settings = self.collection._client.get_settings()
        if settings.is_persistent and settings.persist_directory:
            return ("path", str(settings.persist_directory), self.collection.name)
        host = settings.chroma_server_host
        if host:
            return ("chroma", f"{host}-{settings.chroma_server_http_port}", self.collection.name)
        return None

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        got = self.collection.get(ids=list(ids), include=["metadatas"])
        return {
            str(i): str(m[MARKER])
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)
            if m and m.get(MARKER)
        }

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        self.collection.update(ids=list(ids), metadatas=[{MARKER: value} for _ in ids])

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {
            str(i): np.asarray(vec, dtype=np.float32)
            for i, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        ids = list(vectors)
        self.collection.update(ids=ids, embeddings=[np.asarray(vectors[i]).tolist() for i in ids])

    #: Chroma searches an HNSW graph: approximate.
    exact = False

    def count(self) -> int:
        return int(self.collection.count())

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, ``batch`` at a time (pages by offset)."""
        offset = 0
        while True:
            got = self.collection.get(limit=batch, offset=offset, include=["embeddings"])
            ids = [str(i) for i in got["ids"]]
            if not ids:
                return
            yield ids, np.asarray(got["embeddings"], dtype=np.float32).reshape(len(ids), -1)
            offset += len(ids)
            if len(ids) < batch:
                return

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the collection's own search."""
        n = max(1, min(limit, self.count()))
        got = self.collection.query(
            query_embeddings=np.asarray(queries, np.float32).tolist(), n_results=n, include=[]
        )
        return [[str(i) for i in per] for per in got["ids"]]


class MilvusWriter:
    """A Milvus (or Milvus Lite) collection through ``MilvusClient``: rows re-upserted with
    the vector field replaced, every other field kept."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        id_field: str,
        vector_field: str,
        metric: str,
        uri: str | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.uri = uri
        _ensure_loaded(client, collection)
        self.id_field = id_field
        self.vector_field = vector_field
        self.similarity: str | None = {"IP": "dot", "COSINE": "cosine", "L2": "l2"}.get(
            str(metric).upper()
        )

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        page = 16384
        while True:
            rows = self.client.query(
                collection_name=self.collection,
                filter=f'{self.id_field} != ""',
                output_fields=[self.id_field],
                limit=page,
                offset=len(ids),
            )
            ids.extend(str(r[self.id_field]) for r in rows)
            if len(rows) < page:
                return ids

    def location(self) -> Location | None:
        uri = self.uri or str(getattr(getattr(self.client, "_config", None), "uri", "") or "")
        if not uri:
            return None
        if "://" not in uri:  # Milvus Lite: a local file
            return ("path", uri, self.collection)
        address = uri.split("://", 1)[1].rstrip("/")
        lite = _milvus_lite_file(address)
        if lite is not None:
            return ("path", lite, self.collection)
        return ("milvus", address, self.collection)

    def _rows(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.client.get(
            collection_name=self.collection, ids=list(ids), output_fields=["*"]
        )
        return rows

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return {
            str(row[self.id_field]): np.asarray(row[self.vector_field], dtype=np.float32)
            for row in self._rows(ids)
        }

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        rows = self._rows(list(vectors))
        for row in rows:
            vec = vectors[str(row[self.id_field])]
            row[self.vector_field] = np.asarray(vec, dtype=np.float32).tolist()
        self.client.upsert(collection_name=self.collection, data=rows)

    @property
    def exact(self) -> bool:
        """Whether the collection's vector index searches exhaustively (FLAT)."""
        try:
            names = self.client.list_indexes(
                collection_name=self.collection, field_name=self.vector_field
            )
            info = self.client.describe_index(collection_name=self.collection, index_name=names[0])
        except Exception:  # no index described: searched flat
            return True
        return str((info or {}).get("index_type", "FLAT")).upper() in ("FLAT", "")

    def count(self) -> int:
        stats = self.client.get_collection_stats(collection_name=self.collection)
        return int(stats.get("row_count", 0))

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, ``batch`` at a time (a query iterator)."""
        it = self.client.query_iterator(
            collection_name=self.collection,
            batch_size=batch,
            output_fields=[self.id_field, self.vector_field],
        )
        try:
            while rows := it.next():
                yield (
                    [str(r[self.id_field]) for r in rows],
                    np.asarray([r[self.vector_field] for r in rows], dtype=np.float32),
                )
        finally:
            it.close()

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the collection's own search (its metric and index)."""
        hits = self.client.search(
            collection_name=self.collection,
            data=np.asarray(queries, np.float32).tolist(),
            limit=max(1, min(limit, 16384)),
            anns_field=self.vector_field,
            output_fields=[self.id_field],  # an empty list would return the vectors too
        )
        return [[str(h.id) for h in per] for per in hits]


class QdrantWriter:
    """A Qdrant collection (server or local mode): vectors replaced, payloads kept."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

    def __init__(self, client: Any, collection: str, *, vector_name: str = "") -> None:
        self.client = client
        self.collection = collection
        self.vector_name = vector_name
        info = client.get_collection(collection)
        params = info.config.params.vectors
        if isinstance(params, dict):
            params = params[vector_name]
        distance = str(getattr(params.distance, "value", params.distance)).lower()
        self.similarity: str | None = {"dot": "dot", "cosine": "cosine", "euclid": "l2"}.get(
            distance
        )

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection,
                limit=1024,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            ids.extend(str(p.id) for p in points)
            if offset is None:
                return ids

    def location(self) -> Location | None:
        inner: Any = getattr(self.client, "_client", None)
        if getattr(inner, "persistent", False):
            return ("path", str(inner.location), self.collection)
        uri = getattr(inner, "rest_uri", None)
        if uri:
            return ("qdrant", str(uri).split("://", 1)[-1], self.collection)
        return None

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        points = self.client.retrieve(self.collection, ids=list(ids), with_payload=[MARKER])
        return {str(p.id): str(p.payload[MARKER]) for p in points if (p.payload or {}).get(MARKER)}

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        if value is None:
            self.client.delete_payload(self.collection, keys=[MARKER], points=list(ids), wait=True)
        else:
            self.client.set_payload(
                self.collection, payload={MARKER: value}, points=list(ids), wait=True
            )

    def _vector(self, point: Any) -> Any:
        vec = point.vector
        return vec[self.vector_name] if isinstance(vec, dict) else vec

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        points = self.client.retrieve(
            self.collection, ids=[_point_id(i) for i in ids], with_vectors=True
        )
        return {str(p.id): np.asarray(self._vector(p), dtype=np.float32) for p in points}

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        from qdrant_client import models

        points = [
            models.PointVectors(
                id=i,
                vector={self.vector_name: v.tolist()} if self.vector_name else v.tolist(),
            )
            for i, v in ((i, np.asarray(v, dtype=np.float32)) for i, v in vectors.items())
        ]
        self.client.update_vectors(self.collection, points=points, wait=True)

    #: Searches run with ``exact=True`` (a full scan, no HNSW).
    exact = True

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def _local(self) -> bool:
        """Local mode (in-process, brute force in Python), rather than a server."""
        return type(getattr(self.client, "_client", None)).__name__ == "QdrantLocal"

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the store's own exact search."""
        search = self.nearest_outside or self._search
        return search(queries, limit, set())

    @property
    def nearest_outside(self) -> Any:
        """A server leaves ids out with a filter in one pass. Local mode is searched by
        :meth:`_scan_local` over its arrays in place (its own search holds two
        corpus-sized float64 copies per query, and evaluates filters point by point); a
        local collection whose layout this package does not know over-fetches with its
        own search instead."""
        if not self._local():
            return self._search
        if _local_arrays(self.client, self.collection, self.vector_name) is not None:
            return self._scan_local
        return None

    def _scan_local(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query outside ``skip``: the exact search local mode runs (cosine
        or dot over the vectors it holds), chunk by chunk over its arrays in place, so
        memory is one chunk of vectors and scores whatever the collection holds."""
        found = _local_arrays(self.client, self.collection, self.vector_name)
        if found is None:  # the layout changed since: local mode's own search
            return self._search(queries, limit, skip)
        vectors, ids, inv, out = found
        for key in skip:
            row = ids.get(_point_id(key))
            if row is not None and row < len(out):
                out[row] = True
        q = np.ascontiguousarray(queries, dtype=np.float32)
        step = max(1024, min(chunk_rows(len(q)), LOCAL_CHUNK_BYTES // (4 * vectors.shape[1])))
        k = max(1, min(limit, len(out)))
        _, rows = scan_chunks(
            q, vectors, k, normalize=self.similarity == "cosine", exclude=out, chunk_size=step
        )
        return [[str(inv[r]) for r in row if r >= 0] for row in rows]

    def _search(self, queries: NDArray[np.float32], limit: int, skip: set[str]) -> list[list[str]]:
        """Best ids per query by Qdrant's exact search, ``skip`` left out by a filter."""
        from qdrant_client import models

        flt = (
            models.Filter(must_not=[models.HasIdCondition(has_id=[_point_id(i) for i in skip])])
            if skip
            else None
        )
        local = self._local()  # scans every point, and warns that search params do nothing
        requests = [
            models.QueryRequest(
                query=np.asarray(q, np.float32).tolist(),
                limit=max(1, limit),
                filter=flt,
                using=self.vector_name or None,
                params=None if local else models.SearchParams(exact=True),
                with_payload=False,
            )
            for q in queries
        ]
        out = self.client.query_batch_points(self.collection, requests=requests)
        return [[str(p.id) for p in res.points] for res in out]


#: Vector bytes a local-mode scan normalises at once (a chunk of rows).
LOCAL_CHUNK_BYTES = 32 * 1024 * 1024


def _local_arrays(
    client: Any, collection: str, vector_name: str
) -> tuple[NDArray[np.float32], dict[Any, int], list[Any], NDArray[np.bool_]] | None:
    """A Qdrant local-mode collection's dense vectors (a view of the live rows), its
    point id -> row map, row -> point id list and a mask of the rows no search may return
    (deleted points or vectors), or None where the collection is not laid out as
    qdrant-client's local mode is (cosine and dot collections only: an L2 one is left to
    local mode's own search)."""
    coll: Any = getattr(getattr(client, "_client", None), "collections", {}).get(collection)
    try:
        distance = coll.get_vector_params(vector_name).distance
        vectors = coll.vectors[vector_name]
        n = len(coll.payload)
        ids, inv = coll.ids, coll.ids_inv
        gone: NDArray[np.bool_] = np.asarray(coll.deleted[:n], dtype=np.bool_) | np.asarray(
            coll.deleted_per_vector[vector_name][:n], dtype=np.bool_
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    name = str(getattr(distance, "value", distance)).lower()
    ok = (
        name in ("cosine", "dot")
        and isinstance(vectors, np.ndarray)
        and vectors.dtype == np.float32
        and vectors.ndim == 2
        and vectors.shape[0] >= n
        and len(inv) >= n
        and isinstance(ids, dict)
    )
    return (vectors[:n], ids, inv, gone) if ok else None


def _point_id(key: str) -> int | str:
    """A Qdrant point id from its string form (unsigned integers or UUIDs)."""
    return int(key) if key.isdigit() else key


def _milvus_lite_file(address: str) -> str | None:
    """The database file behind a Milvus Lite server this process started (its clients
    see only a loopback address with a new port each time), or None."""
    host, _, port = address.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        return None
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return None
    servers = getattr(server_manager_instance, "_servers", {}) or {}
    for path, entry in servers.items():
        if isinstance(entry, tuple) and entry and entry[-1] == int(port):
            return str(path)
    return None


def _ensure_loaded(client: Any, collection: str) -> None:
    """Load a released collection (a reopened Milvus Lite file starts released), since
    nothing can be read from it before."""
    try:
        state = str(client.get_load_state(collection_name=collection).get("state", ""))
    except Exception:  # servers without the call: reading will say what is wrong
        return
    if "NotLoad" in state:
        client.load_collection(collection_name=collection)
