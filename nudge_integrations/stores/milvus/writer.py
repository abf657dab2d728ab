"""A Milvus (or Milvus Lite) collection through ``MilvusClient``: vectors replaced by an
upsert of id and vector alone where the server keeps the other fields itself (a partial
update, :func:`partial_updates`), else rows read and re-upserted whole with the vector
field replaced; every other field kept either way."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.compat.clients import milvus_lite_servers, milvus_uri
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.base import BatchedWriter, Limits, Location

#: Declared request sizes. A write re-upserts whole rows (text, metadata and vector), and
#: Milvus's proxy takes a gRPC message of at most 64 MB by default (``serverMaxRecvSize``):
#: 1,024 rows stay far below it, even of 4,096-dimensional vectors and long texts. A read
#: by id is a query, whose result window Milvus caps at 16,384 rows and whose answer at
#: 256 MB (``serverMaxSendSize``): 4,096 rows stay well under both.
LIMITS = Limits(read=4096, write=1024)

#: Milvus's largest search ``limit`` (``topk``).
MAX_TOPK = 16384

#: The oldest versions whose upsert takes ``partial_update=True`` (merge mode: fields a
#: row leaves out keep their values): Milvus 2.6.2 ("Upsert Entities", merge mode,
#: milvus.io docs v2.6.x) and pymilvus from the same release; Milvus Lite checked from
#: 3.2.2 (pymilvus 2.6.17), the oldest tried here.
PARTIAL_MILVUS = (2, 6, 2)
PARTIAL_PYMILVUS = (2, 6, 2)
PARTIAL_LITE = (3, 2, 2)


def _version(text: str) -> tuple[int, ...] | None:
    """The first ``major.minor.patch`` in ``text`` as numbers, or None."""
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in found.groups()) if found else None


def partial_updates(client: Any, collection: str, id_field: str, vector_field: str) -> bool:
    """Whether vectors can be replaced by an upsert of id and vector alone, the server
    keeping every other field: pymilvus and the server take ``partial_update`` (an older
    server would ignore it and drop the fields left out), records are upserted by their
    own key (no ``auto_id``), no function derives a field, and some field every row must
    carry (not nullable, no default) makes the server refuse a row whose record is gone
    instead of inserting it with only a vector. Anything else, or a check that fails:
    rows are read and re-upserted whole."""
    try:
        client_version = _version(version("pymilvus"))
        server = str(client.get_server_version())
        info = client.describe_collection(collection_name=collection)
    except Exception:  # a client or server that cannot say: rows whole
        return False
    if client_version is None or client_version < PARTIAL_PYMILVUS:
        return False
    server_version = _version(server)
    oldest = PARTIAL_LITE if "lite" in server.lower() else PARTIAL_MILVUS
    if server_version is None or server_version < oldest:
        return False
    if info.get("auto_id") or info.get("functions"):
        return False
    return any(
        f.get("name") not in (id_field, vector_field)
        and not f.get("nullable")
        and f.get("default_value") is None
        for f in info.get("fields", [])
    )


def milvus_metric(client: Any, collection: str, field: str) -> str:
    """The metric of the index on ``field`` ('' when no index names one)."""
    for index in client.list_indexes(collection, field_name=field):
        metric = client.describe_index(collection, index).get("metric_type")
        if metric:
            return str(metric)
    return ""


class MilvusWriter(BatchedWriter):
    """A Milvus (or Milvus Lite) collection through ``MilvusClient``: vectors replaced by a
    partial upsert of id and vector where :func:`partial_updates` allows, else rows read
    and re-upserted whole with the vector field replaced; every other field kept."""

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
        #: Whether writes upsert id and vector alone (:func:`partial_updates`); found at the
        #: first write.
        self.partial: bool | None = None
        self._int_ids = False

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
        # the vector field alone (the primary key comes with it): a read of whole rows
        # carried every text and metadata field too
        rows = self.client.get(
            collection_name=self.collection, ids=ids, output_fields=[self.vector_field]
        )
        return {
            str(row[self.id_field]): np.asarray(row[self.vector_field], dtype=np.float32)
            for row in rows
        }

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        if self.partial is None:
            self.partial = partial_updates(
                self.client, self.collection, self.id_field, self.vector_field
            )
            self._int_ids = self.partial and self._primary_is_int()
        if not self.partial:
            rows = self._rows(list(vectors))
            for row in rows:
                vec = vectors[str(row[self.id_field])]
                row[self.vector_field] = np.asarray(vec, dtype=np.float32).tolist()
            self.client.upsert(collection_name=self.collection, data=rows)
            return
        # one upsert of id and vector per record, no read: the server keeps the rest of
        # the row. Reading rows to upsert them whole read each record of a swap a second
        # time (the plan reads it first): 10k of 50k records x 384 in Milvus Lite, a
        # swap's writes took 6.1 s that way and 3.5 s this way (LangChain's collection)
        keys = list(vectors)
        data = [
            {
                self.id_field: int(key) if self._int_ids else key,
                self.vector_field: np.asarray(vectors[key], dtype=np.float32).tolist(),
            }
            for key in keys
        ]
        try:
            self.client.upsert(collection_name=self.collection, data=data, partial_update=True)
        except Exception as exc:
            gone = self._gone([d[self.id_field] for d in data])
            if gone:
                raise NudgeError(
                    f"{gone} of {len(keys)} records to write are no longer in the Milvus "
                    f"collection {self.collection!r}, so it refused the batch (a partial "
                    "update of a record that is gone would insert it): another process "
                    "deleted records mid-swap; check status() and finish or roll back"
                ) from exc
            raise

    def _gone(self, keys: list[Any]) -> int:
        """How many of ``keys`` the collection no longer holds (0 when it cannot say)."""
        try:
            found = self.client.get(
                collection_name=self.collection, ids=keys, output_fields=[self.id_field]
            )
        except Exception:  # the write's own error says more
            return 0
        return len({str(k) for k in keys} - {str(r[self.id_field]) for r in found})

    def _primary_is_int(self) -> bool:
        """Whether the primary key is an integer field (ids are written as numbers)."""
        info = self.client.describe_collection(collection_name=self.collection)
        for f in info.get("fields", []):
            if f.get("name") == self.id_field:
                kind = f.get("type")  # pymilvus DataType (an IntEnum: str() is its number)
                return str(getattr(kind, "name", kind)).upper() == "INT64"
        return False

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
