"""``chroma:PATH:COLLECTION`` on the command line: a collection in a Chroma persistent
folder (every write persists; nothing to save)."""

from __future__ import annotations

from pathlib import Path

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.chroma.writer import ChromaWriter


def open_store(path: str, name: str, *, vector_field: str = "vector") -> Bound:
    """The collection ``name`` of the Chroma folder ``path``."""
    import chromadb

    where = Path(path).expanduser()
    if not where.exists():
        raise NudgeError(f"{where} does not exist")
    client = chromadb.PersistentClient(path=str(where))
    try:
        collection = client.get_collection(name)
    except Exception as exc:
        raise NudgeError(f"no collection {name!r} in {where}") from exc
    return Bound(ChromaWriter(collection), "Chroma collection")
