"""Private attributes of vector-store clients (chromadb, pymilvus, milvus-lite), one
function per read, each with the versions it was checked against."""

from __future__ import annotations

from typing import Any


def chroma_client(collection: Any) -> Any:
    """The API client behind a Chroma ``Collection`` (``get_settings``,
    ``get_max_batch_size``). Checked: chromadb 1.5.9."""
    return collection._client


def milvus_uri(client: Any) -> str:
    """The URI a ``MilvusClient`` was opened with ('' when it does not say). Checked:
    pymilvus 2.6.17."""
    return str(getattr(getattr(client, "_config", None), "uri", "") or "")


def milvus_lite_servers() -> dict[str, Any]:
    """Milvus Lite servers this process started: database file -> (..., port). Checked:
    milvus-lite 3.2.2."""
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return {}
    servers: dict[str, Any] = getattr(server_manager_instance, "_servers", None) or {}
    return servers


def qdrant_transport(client: Any) -> Any:
    """What a ``QdrantClient`` talks through: ``QdrantLocal`` (local mode) or
    ``QdrantRemote`` (a server). Checked: qdrant-client 1.20.0."""
    return getattr(client, "_client", None)


def qdrant_is_local(client: Any) -> bool:
    """Whether a ``QdrantClient`` runs in local mode (in this process, searching by brute
    force in Python) rather than against a server. Checked: qdrant-client 1.20.0."""
    return type(qdrant_transport(client)).__name__ == "QdrantLocal"


def qdrant_where(client: Any) -> tuple[str, str] | None:
    """Where a ``QdrantClient``'s points live: ("path", folder) in local mode on disk,
    ("qdrant", host:port/prefix) for a server, None in memory. Checked: qdrant-client
    1.20.0 (``QdrantLocal.persistent`` / ``.location``, ``QdrantRemote.rest_uri``)."""
    inner = qdrant_transport(client)
    if getattr(inner, "persistent", False):
        return ("path", str(inner.location))
    uri = getattr(inner, "rest_uri", None)
    if uri:
        return ("qdrant", str(uri).split("://", 1)[-1])
    return None


def qdrant_local_arrays(
    client: Any, collection: str, vector_name: str
) -> tuple[Any, dict[Any, int], list[Any], Any] | None:
    """A local-mode collection's dense vectors (a view of its live rows), point id -> row,
    row -> point id and a mask of rows no search may return (deleted points or vectors),
    or None where the collection is not laid out so (cosine and dot collections only: an
    L2 one is left to local mode's own search). Checked: qdrant-client 1.20.0
    (``LocalCollection.vectors``, ``.ids``, ``.ids_inv``, ``.deleted``,
    ``.deleted_per_vector``, ``.payload``, ``.get_vector_params``)."""
    import numpy as np

    found = getattr(qdrant_transport(client), "collections", None)
    coll: Any = found.get(collection) if isinstance(found, dict) else None
    try:
        distance = coll.get_vector_params(vector_name).distance
        vectors = coll.vectors[vector_name]
        n = len(coll.payload)
        ids, inv = coll.ids, coll.ids_inv
        gone = np.asarray(coll.deleted[:n], dtype=np.bool_) | np.asarray(
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


def lancedb_uri(table: Any) -> str:
    """The database URI a LanceDB ``Table`` was opened from ('' when it does not say).
    Checked: lancedb 0.40.0 (``LanceTable._conn.uri``)."""
    return str(getattr(getattr(table, "_conn", None), "uri", "") or "")
