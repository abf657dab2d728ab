"""``qdrant:PATH:COLLECTION`` on the command line: a collection in a Qdrant local-mode
folder; its dense vector unnamed, or named by ``--vector-field``."""

from __future__ import annotations

from pathlib import Path

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.qdrant.writer import qdrant_writer


def open_store(path: str, name: str, *, vector_field: str = "vector") -> Bound:
    """The collection ``name`` in the local-mode folder ``path``."""
    from qdrant_client import QdrantClient

    where = Path(path).expanduser()
    if not where.exists():
        raise NudgeError(f"{where} does not exist")
    try:
        client = QdrantClient(path=str(where))
    except RuntimeError as exc:  # the folder is held by another client (local mode locks it)
        raise NudgeError(str(exc)) from exc
    if not client.collection_exists(name):
        client.close()
        raise NudgeError(f"no collection {name!r} in {where}")
    return Bound(qdrant_writer(client, name, vector_name=vector_field), "Qdrant collection")
