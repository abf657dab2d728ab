"""``milvus:FILE:COLLECTION`` on the command line: a Milvus Lite file; ids in the ``id``
field, vectors in ``vector`` (or ``--vector-field``). Every write persists."""

from __future__ import annotations

from pathlib import Path

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.milvus.writer import MilvusWriter, milvus_metric


def open_store(path: str, name: str, *, vector_field: str = "vector") -> Bound:
    """The collection ``name`` of the Milvus Lite file ``path``."""
    from pymilvus import MilvusClient

    where = Path(path).expanduser()
    if not where.exists():
        raise NudgeError(f"{where} does not exist")
    client = MilvusClient(str(where))
    if not client.has_collection(name):
        raise NudgeError(f"no collection {name!r} in {where}")
    metric = milvus_metric(client, name, vector_field)
    writer = MilvusWriter(
        client, name, id_field="id", vector_field=vector_field, metric=metric, uri=str(where)
    )
    return Bound(writer, "Milvus collection")
