"""A Qdrant collection's dense vector (local mode or a server): vectors replaced by point
id, payloads kept, the nudge marker in the payload; every request within the limits below.

The dense vector is found from the collection's config (unnamed, or named as the store
queries it: LlamaIndex's ``text-dense`` when hybrid); point ids are checked before any
request. How the fit searches outside a set of ids depends on where the collection lives,
so :func:`qdrant_writer` picks one of three classes when the store is bound.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.compat.clients import qdrant_is_local, qdrant_local_arrays, qdrant_where
from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.core.search import chunk_rows, scan_chunks
from nudge_integrations.stores.base import MARKER, Limits, Location, MarkedWriter

#: The most one request may carry: Qdrant's default ``service.max_request_size_mb`` (32
#: MiB, config/config.yaml of the Qdrant server; a request over it is refused with 413).
#: qdrant-client sends no larger gRPC message either (it lifts gRPC's own 4 MB caps).
REQUEST_BYTES = 32 * 1024 * 1024

#: Bytes one vector value takes in a JSON request at most: a float32 written as the
#: shortest double that gives it back (e.g. ``-1.2345678901234567e-05``) and a comma.
VALUE_BYTES = 24

#: Bytes of one point besides its vector: its id (a quoted UUID) and the JSON around it.
POINT_BYTES = 64

#: Points per request at most, whatever the vectors' size: a retrieve or update of 4,096
#: 384-d points is ~37 MB of JSON to build in Python; larger ones gain nothing measurable.
MAX_POINTS = 4096

#: Vector bytes a local-mode scan normalises at once (a chunk of rows).
LOCAL_CHUNK_BYTES = 32 * 1024 * 1024


def qdrant_limits(dim: int, strict_batch: int | None = None) -> Limits:
    """Points per request such that a request (an update of vectors) or a response (a
    retrieve with vectors) of ``dim``-d vectors stays within :data:`REQUEST_BYTES`,
    capped by a collection's strict-mode ``upsert_max_batchsize`` where it sets one."""
    size = max(1, min(MAX_POINTS, REQUEST_BYTES // (dim * VALUE_BYTES + POINT_BYTES)))
    write = min(size, strict_batch) if strict_batch else size
    return Limits(read=size, write=max(1, write))


def dense_vector_name(client: Any, collection: str, preferred: str = "") -> str:
    """The name of the collection's dense float32 vector ("" when unnamed), preferring
    ``preferred`` (the one the store queries); a clear error when there is none."""
    if not client.collection_exists(collection):
        raise NudgeError(
            f"the Qdrant collection {collection!r} does not exist yet: add the nodes first"
        )
    params = client.get_collection(collection).config.params
    vectors = params.vectors
    if not vectors:  # None or {}: sparse vectors only
        sparse = ", ".join(params.sparse_vectors or {}) or "none"
        raise NudgeError(
            f"the Qdrant collection {collection!r} holds sparse vectors only ({sparse}): NUDGE "
            "moves dense vectors. Build the collection with a dense vector (LlamaIndex keeps "
            "one with enable_hybrid=True), or fit from the nodes and serve as_retriever()"
        )
    if not isinstance(vectors, dict):
        name, config = "", vectors
    elif preferred in vectors:
        name, config = preferred, vectors[preferred]
    elif "" in vectors:
        name, config = "", vectors[""]
    else:
        raise NudgeError(
            f"the Qdrant collection {collection!r} has dense vectors "
            f"{', '.join(map(repr, vectors))} but the store queries {preferred!r}: name the "
            "one its records were embedded into (LlamaIndex: dense_vector_name=, LangChain: "
            "vector_name=, the command line: --vector-field)"
        )
    if getattr(config, "multivector_config", None) is not None:
        raise NudgeError(
            f"the Qdrant vector {name!r} of {collection!r} is a multi-vector: NUDGE moves one "
            "vector per record"
        )
    datatype = str(getattr(config.datatype, "value", config.datatype) or "float32").lower()
    if datatype != "float32":
        raise NudgeError(
            f"the Qdrant vector {name!r} of {collection!r} stores {datatype} values, which "
            "cannot hold the nudged vectors exactly: use the default float32 datatype"
        )
    return name


def _canonical_int(key: str) -> bool:
    """Whether ``key`` is an unsigned 64-bit integer written as Qdrant gives it back."""
    return key.isdigit() and key.isascii() and str(int(key)) == key and int(key) < 2**64


def check_point_ids(ids: Sequence[str], *, integers: bool = True) -> None:
    """Refuse ids that cannot be Qdrant point ids: UUIDs in their canonical form, and (with
    ``integers``) unsigned integers."""
    for i in ids:
        if integers and _canonical_int(str(i)):
            continue
        try:
            canonical = str(uuid.UUID(str(i)))
        except ValueError:
            canonical = None
        if canonical == i:
            continue
        if canonical is not None:
            raise UnknownIdError(
                f"Qdrant keeps UUID point ids in lower-case hyphenated form, so id {i!r} is "
                f"stored as {canonical!r}: give your records (and QA data) ids in that form"
            )
        example = str(uuid.uuid5(uuid.NAMESPACE_URL, str(i)))
        kinds = (
            "UUIDs or unsigned integers (written without leading zeros)"
            if integers
            else "UUIDs (or unsigned integers, which LlamaIndex's nodes cannot have)"
        )
        raise UnknownIdError(
            f"Qdrant point ids are {kinds}, and {i!r} is not one, so no point has it. Give "
            f"your records UUID ids, e.g. str(uuid.uuid5(uuid.NAMESPACE_URL, {i!r})) = "
            f"{example!r}, and map the ids in your QA data the same way "
            "(docs/integrations.md, Qdrant)"
        )


def point_id(key: str) -> int | str:
    """A Qdrant point id from its string form (unsigned integers or UUIDs)."""
    return int(key) if _canonical_int(key) else key


class QdrantWriter(MarkedWriter):
    """A Qdrant collection's dense vector: vectors replaced, payloads kept, the marker a
    payload key. Searches by the client's own exact search; a fit that must leave ids out
    over-fetches through it (a local collection whose layout this package does not know).
    """

    #: Searches run with ``exact=True`` (a full scan, no HNSW); local mode always scans.
    exact = True

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        vector_name: str = "",
        integer_ids: bool = True,
        limits: Limits | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.vector_name = dense_vector_name(client, collection, vector_name)
        self.integer_ids = integer_ids
        config = client.get_collection(collection).config
        params = config.params.vectors
        if isinstance(params, dict):
            params = params[self.vector_name]
        distance = str(getattr(params.distance, "value", params.distance)).lower()
        self.similarity: str | None = {"dot": "dot", "cosine": "cosine", "euclid": "l2"}.get(
            distance
        )
        strict = getattr(config, "strict_mode_config", None)  # qdrant-client >= 1.13
        batch = strict.upsert_max_batchsize if strict is not None and strict.enabled else None
        self.limits = limits or qdrant_limits(int(params.size), batch)
        self.local = qdrant_is_local(client)
        named = config.params.vectors
        #: The point's only vector is this one (no other dense or sparse vector).
        self.sole_vector = (not isinstance(named, dict) or len(named) == 1) and not (
            config.params.sparse_vectors
        )
        # a point rewritten whole by one upsert loses nothing only where its only vector is
        # this one, and no other client writes meanwhile (local mode locks its folder)
        self.writes_together = self.local and self.sole_vector

    def point_ids(self, ids: Sequence[str]) -> list[int | str]:
        """The point ids of ``ids``, after checking each can be one."""
        check_point_ids(ids, integers=self.integer_ids)
        return [point_id(str(i)) for i in ids]

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection,
                limit=self.limits.read,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            ids.extend(str(p.id) for p in points)
            if offset is None:
                return ids

    def location(self) -> Location | None:
        where = qdrant_where(self.client)
        return None if where is None else (*where, self.collection)

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        points = self.client.retrieve(
            self.collection, ids=self.point_ids(ids), with_payload=[MARKER]
        )
        return {str(p.id): str(p.payload[MARKER]) for p in points if (p.payload or {}).get(MARKER)}

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        points = self.point_ids(ids)
        if value is None:
            self.client.delete_payload(self.collection, keys=[MARKER], points=points, wait=True)
        else:
            self.client.set_payload(
                self.collection, payload={MARKER: value}, points=points, wait=True
            )

    def _write_together(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        """Local mode: each point rewritten whole in one upsert (its payload as read now,
        the vector and the marker replaced), which local mode stores once per point where
        an update of vectors and one of payload store it twice (30k points at 200k: 32 s
        for the markers alone). Local mode locks its folder to one client, and the point
        has no other vector, so the upsert loses nothing."""
        from qdrant_client import models

        ids = list(vectors)
        pids = self.point_ids(ids)
        got = self.client.retrieve(self.collection, ids=pids, with_payload=True)
        payloads = {str(p.id): dict(p.payload or {}) for p in got}
        points = []
        for key, pid in zip(ids, pids, strict=True):
            if key not in payloads:
                raise UnknownIdError(
                    f"the Qdrant collection {self.collection!r} has no point {key!r}"
                )
            payload = payloads[key]
            payload.pop(MARKER, None)
            if marks[key] is not None:
                payload[MARKER] = marks[key]
            vec = np.asarray(vectors[key], dtype=np.float32).tolist()
            points.append(
                models.PointStruct(
                    id=pid,
                    vector={self.vector_name: vec} if self.vector_name else vec,
                    payload=payload,
                )
            )
        self.client.upsert(self.collection, points=points, wait=True)

    def vector_of(self, point: Any) -> Any:
        """The dense vector of a point the client returned (None when it has none)."""
        vec = point.vector
        return vec.get(self.vector_name) if isinstance(vec, dict) else vec

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        wanted = [self.vector_name] if self.vector_name else True  # not a sparse one
        points = self.client.retrieve(self.collection, ids=self.point_ids(ids), with_vectors=wanted)
        out = {}
        for p in points:
            vec = self.vector_of(p)
            if vec is not None:
                out[str(p.id)] = np.asarray(vec, dtype=np.float32)
        return out

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        from qdrant_client import models

        keys = list(vectors)
        points = [
            models.PointVectors(
                id=pid,
                vector={self.vector_name: vec} if self.vector_name else vec,
            )
            for pid, vec in zip(
                self.point_ids(keys),
                (np.asarray(vectors[k], dtype=np.float32).tolist() for k in keys),
                strict=True,
            )
        ]
        self.client.update_vectors(self.collection, points=points, wait=True)

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the store's own exact search."""
        return self._search(queries, limit, set())

    def _search(self, queries: NDArray[np.float32], limit: int, skip: set[str]) -> list[list[str]]:
        """Best ids per query by Qdrant's exact search, ``skip`` left out by a filter."""
        from qdrant_client import models

        gone: list[int | str | uuid.UUID] = [*self.point_ids(sorted(skip))]
        flt = models.Filter(must_not=[models.HasIdCondition(has_id=gone)]) if skip else None
        requests = [
            models.QueryRequest(
                query=np.asarray(q, np.float32).tolist(),
                limit=max(1, limit),
                filter=flt,
                using=self.vector_name or None,
                # local mode scans every point, and warns that search params do nothing
                params=None if self.local else models.SearchParams(exact=True),
                with_payload=False,
            )
            for q in queries
        ]
        out = self.client.query_batch_points(self.collection, requests=requests)
        return [[str(p.id) for p in res.points] for res in out]


class QdrantServerWriter(QdrantWriter):
    """:class:`QdrantWriter` on a server, which leaves ids out with a filter in one pass."""

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query outside ``skip``, by the server's exact search and a filter."""
        return self._search(queries, limit, skip)


class QdrantLocalWriter(QdrantWriter):
    """:class:`QdrantWriter` in local mode on a collection laid out as qdrant-client keeps
    it (cosine or dot): searched over its arrays in place, since local mode's own search
    holds two corpus-sized float64 copies per query and evaluates filters point by point.
    """

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query, as local mode's exact search ranks them."""
        return self.nearest_outside(queries, limit, set())

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query outside ``skip``: the exact search local mode runs (cosine
        or dot over the vectors it holds), chunk by chunk over its arrays in place, so
        memory is one chunk of vectors and scores whatever the collection holds."""
        found = qdrant_local_arrays(self.client, self.collection, self.vector_name)
        if found is None:  # the layout changed since: local mode's own search
            return self._search(queries, limit, skip)
        vectors, ids, inv, out = found
        for key in skip:
            row = ids.get(point_id(key))
            if row is not None and row < len(out):
                out[row] = True
        q = np.ascontiguousarray(queries, dtype=np.float32)
        step = max(1024, min(chunk_rows(len(q)), LOCAL_CHUNK_BYTES // (4 * vectors.shape[1])))
        k = max(1, min(limit, len(out)))
        _, rows = scan_chunks(
            q, vectors, k, normalize=self.similarity == "cosine", exclude=out, chunk_size=step
        )
        return [[str(inv[r]) for r in row if r >= 0] for row in rows]


def qdrant_writer(
    client: Any,
    collection: str,
    *,
    vector_name: str = "",
    integer_ids: bool = True,
    limits: Limits | None = None,
) -> QdrantWriter:
    """The writer for a Qdrant collection, by where it lives: a server
    (:class:`QdrantServerWriter`), local mode with a layout scanned in place
    (:class:`QdrantLocalWriter`), else :class:`QdrantWriter`. ``vector_name``: the dense
    vector the store queries; ``integer_ids``: whether records may have integer point ids
    (LlamaIndex's nodes cannot)."""
    name = dense_vector_name(client, collection, vector_name)
    cls: type[QdrantWriter] = QdrantServerWriter
    if qdrant_is_local(client):
        known = qdrant_local_arrays(client, collection, name) is not None
        cls = QdrantLocalWriter if known else QdrantWriter
    return cls(client, collection, vector_name=name, integer_ids=integer_ids, limits=limits)
