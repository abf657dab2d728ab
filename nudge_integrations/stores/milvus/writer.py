"""A Milvus (or Milvus Lite) collection through ``MilvusClient``: rows re-upserted with
the vector field replaced, every other field kept."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.compat.clients import milvus_lite_servers, milvus_uri
from nudge_integrations.stores.base import BatchedWriter, Limits, Location

#: Declared request sizes. A write re-upserts whole rows (text, metadata and vector), and
#: Milvus's proxy takes a gRPC message of at most 64 MB by default (``serverMaxRecvSize``):
#: 1,024 rows stay far below it, even of 4,096-dimensional vectors and long texts. A read
#: by id is a query, whose result window Milvus caps at 16,384 rows and whose answer at
#: 256 MB (``serverMaxSendSize``): 4,096 rows stay well under both.
LIMITS = Limits(read=4096, write=1024)

#: Milvus's largest search ``limit`` (``topk``).
MAX_TOPK = 16384


def milvus_metric(client: Any, collection: str, field: str) -> str:
    """The metric of the index on ``field`` ('' when no index names one)."""
    for index in client.list_indexes(collection, field_name=field):
        metric = client.describe_index(collection, index).get("metric_type")
        if metric:
            return str(metric)
    return ""


class MilvusWriter(BatchedWriter):
    """A Milvus (or Milvus Lite) collection through ``MilvusClient``: rows re-upserted with
    the vector field replaced, every other field kept."""

    limits = LIMITS

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

    def rows(self, fields: list[str], batch: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every row's ``fields``, ``batch`` (default the read limit) at a time, by a query
        iterator (no offset window to outgrow)."""
        found = self.client.query_iterator(
            collection_name=self.collection,
            batch_size=min(batch or self.limits.read, self.limits.read),
            filter="",
            output_fields=fields,
        )
        try:
            while page := found.next():
                yield page
        finally:
            found.close()

    def all_ids(self) -> list[str]:
        return [str(r[self.id_field]) for page in self.rows([self.id_field]) for r in page]

    def location(self) -> Location | None:
        uri = self.uri or milvus_uri(self.client)
        if not uri:
            return None
        if "://" not in uri:  # Milvus Lite: a local file
            return ("path", uri, self.collection)
        address = uri.split("://", 1)[1].rstrip("/")
        lite = _milvus_lite_file(address)
        if lite is not None:
            return ("path", lite, self.collection)
        return ("milvus", address, self.collection)

    def _rows(self, ids: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.client.get(
            collection_name=self.collection, ids=ids, output_fields=["*"]
        )
        return rows

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        return {
            str(row[self.id_field]): np.asarray(row[self.vector_field], dtype=np.float32)
            for row in self._rows(ids)
        }

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
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
        """Every record's id and vector, ``batch`` at a time (within the read limit)."""
        for rows in self.rows([self.id_field, self.vector_field], batch):
            yield (
                [str(r[self.id_field]) for r in rows],
                np.asarray([r[self.vector_field] for r in rows], dtype=np.float32),
            )

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the collection's own search (its metric and index)."""
        hits = self.client.search(
            collection_name=self.collection,
            data=np.asarray(queries, np.float32).tolist(),
            limit=max(1, min(limit, MAX_TOPK)),
            anns_field=self.vector_field,
            output_fields=[self.id_field],  # an empty list would return the vectors too
        )
        return [[str(h.id) for h in per] for per in hits]


def _milvus_lite_file(address: str) -> str | None:
    """The database file behind a Milvus Lite server this process started (its clients
    see only a loopback address with a new port each time), or None."""
    host, _, port = address.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        return None
    for path, entry in milvus_lite_servers().items():
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
