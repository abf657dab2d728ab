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
