"""Persistent stores named on the command line, opened with their native clients.

``chroma:PATH:COLLECTION`` (a Chroma persistent folder), ``milvus:FILE:COLLECTION`` (a
Milvus Lite file; ids in the ``id`` field, vectors in ``vector``, or ``--vector-field``),
``qdrant:PATH:COLLECTION`` (a Qdrant local folder) and ``faiss:INDEX_FILE:IDS_JSON`` (a
flat FAISS index written with ``faiss.write_index`` and the JSON list of its rows' ids;
the index file is rewritten after a change). Every write goes through the store's nudge
ledger, so ``nudge status`` and ``nudge revert`` work on it from any later process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.base import StoreWriter

KINDS = ("chroma", "milvus", "qdrant", "faiss")


def open_store(
    spec: str, *, vector_field: str = "vector"
) -> tuple[StoreWriter, Callable[[], None]]:
    """The writer for ``KIND:PATH:NAME``, and a function that saves it (FAISS) or does
    nothing (stores that persist every write)."""
    kind, _, rest = spec.partition(":")
    path, _, name = rest.rpartition(":")
    if kind not in KINDS or not path or not name:
        raise NudgeError(
            f"--store {spec!r}: expected KIND:PATH:NAME with KIND one of {', '.join(KINDS)} "
            "(e.g. chroma:./chroma_db:docs, faiss:index.faiss:ids.json)"
        )
    where = Path(path).expanduser()
    if not where.exists():
        raise NudgeError(f"--store {spec!r}: {where} does not exist")
    if kind == "chroma":
        import chromadb

        from nudge_integrations.stores import ChromaWriter

        client = chromadb.PersistentClient(path=str(where))
        try:
            collection = client.get_collection(name)
        except Exception as exc:
            raise NudgeError(f"--store {spec!r}: no collection {name!r} in {where}") from exc
        return ChromaWriter(collection), lambda: None
    if kind == "milvus":
        from pymilvus import MilvusClient

        from nudge_integrations.stores import MilvusWriter

        mclient = MilvusClient(str(where))
        if not mclient.has_collection(name):
            raise NudgeError(f"--store {spec!r}: no collection {name!r} in {where}")
        metric = _milvus_metric(mclient, name, vector_field)
        writer = MilvusWriter(
            mclient, name, id_field="id", vector_field=vector_field, metric=metric, uri=str(where)
        )
        return writer, lambda: None
    if kind == "qdrant":
        from qdrant_client import QdrantClient

        from nudge_integrations.stores import QdrantWriter

        qclient = QdrantClient(path=str(where))
        if not qclient.collection_exists(name):
            raise NudgeError(f"--store {spec!r}: no collection {name!r} in {where}")
        return QdrantWriter(qclient, name), lambda: None
    return _faiss(where, Path(name).expanduser(), spec)


def _milvus_metric(client: Any, collection: str, field: str) -> str:
    for index in client.list_indexes(collection, field_name=field):
        metric = client.describe_index(collection, index).get("metric_type")
        if metric:
            return str(metric)
    return ""


def _faiss(index_file: Path, ids_file: Path, spec: str) -> tuple[StoreWriter, Callable[[], None]]:
    import faiss

    from nudge_integrations.stores import FaissFlatWriter

    if not ids_file.is_file():
        raise NudgeError(f"--store {spec!r}: {ids_file} (the JSON list of row ids) is missing")
    ids = [str(i) for i in json.loads(ids_file.read_text())]
    index = faiss.read_index(str(index_file))
    if index.ntotal != len(ids):
        raise NudgeError(
            f"--store {spec!r}: the index has {index.ntotal} rows but {ids_file} lists "
            f"{len(ids)} ids"
        )
    writer = FaissFlatWriter(index, {i: n for n, i in enumerate(ids)}, path=str(index_file))

    def save() -> None:
        tmp = index_file.with_name(f".{index_file.name}.tmp")
        faiss.write_index(writer.index, str(tmp))
        tmp.replace(index_file)

    return writer, save
