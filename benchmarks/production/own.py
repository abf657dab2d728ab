"""Each store's own bulk update of vectors by id, through its own client API, in
requests of the most it takes: what a user would write without nudge-integrations.

The client handles come from the package's writer (the same collection, table or
index the lifecycle writes); the requests do not go through the writer. Request sizes:
Chroma's ``get_max_batch_size()``; elsewhere the store declares no record count, and
the size the package's writer derives from the store's request limits is used (Qdrant
32 MiB, LanceDB 64 MiB per ``merge_insert``, pgvector 2,048 per ``UPDATE``, Milvus
1,024 per ``upsert``), recorded beside each timing; FAISS and the in-memory stores are
written row by row in memory (one "request").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

Rows = NDArray[np.float32]


def own_update(writer: Any, kind: str) -> tuple[int, Callable[[list[str], Rows], int]]:
    """(request size, update(ids, rows) -> requests made) for ``kind``'s store."""
    if kind in ("chroma", "chroma-server"):
        col = writer.collection
        size = int(writer.limits.write)

        def chroma(ids: list[str], rows: Rows) -> int:
            for s in range(0, len(ids), size):
                col.update(ids=ids[s : s + size], embeddings=rows[s : s + size])
            return -(-len(ids) // size)

        return size, chroma
    if kind == "qdrant":
        return writer.limits.write, _qdrant(writer)
    if kind == "lancedb":
        return writer.limits.write, _lancedb(writer)
    if kind == "pgvector":
        return writer.limits.write, _pgvector(writer)
    if kind == "milvus":
        return writer.limits.write, _milvus(writer)
    if kind == "faiss":
        import faiss

        def flat(ids: list[str], rows: Rows) -> int:
            index, at = writer.index, writer.position_of
            xb = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d)
            matrix = np.asarray(xb).reshape(index.ntotal, index.d)
            matrix[[at[i] for i in ids]] = rows
            return 1

        return 0, flat
    if kind == "memory":

        def memory(ids: list[str], rows: Rows) -> int:
            if hasattr(writer, "table"):  # LangChain InMemoryVectorStore
                for i, row in zip(ids, rows, strict=True):
                    writer.table[i]["vector"] = row.tolist()
            else:  # LlamaIndex SimpleVectorStore
                for i, row in zip(ids, rows, strict=True):
                    writer.data.embedding_dict[i] = row.tolist()
            return 1

        return 0, memory
    raise SystemExit(f"no own update for {kind!r}")


def _qdrant(writer: Any) -> Callable[[list[str], Rows], int]:
    from qdrant_client import models

    size, name = int(writer.limits.write), writer.vector_name

    def update(ids: list[str], rows: Rows) -> int:
        for s in range(0, len(ids), size):
            points = [
                models.PointVectors(id=i, vector={name: v} if name else v)
                for i, v in zip(ids[s : s + size], rows[s : s + size].tolist(), strict=True)
            ]
            writer.client.update_vectors(writer.collection, points=points, wait=True)
        return -(-len(ids) // size)

    return update


def _lancedb(writer: Any) -> Callable[[list[str], Rows], int]:
    import pyarrow as pa

    size, table = int(writer.limits.write), writer.table
    id_type = table.schema.field(writer.id_column).type
    vec_type = table.schema.field(writer.vector_column).type

    def update(ids: list[str], rows: Rows) -> int:
        for s in range(0, len(ids), size):
            part = np.ascontiguousarray(rows[s : s + size], dtype=np.float32)
            values = pa.array(part.ravel(), type=pa.float32())
            source = pa.table(
                {
                    writer.id_column: pa.array(ids[s : s + size], type=id_type),
                    writer.vector_column: pa.FixedSizeListArray.from_arrays(values, type=vec_type),
                }
            )
            table.merge_insert(writer.id_column).when_matched_update_all().execute(source)
        return -(-len(ids) // size)

    return update


def _pgvector(writer: Any) -> Callable[[list[str], Rows], int]:
    size = int(writer.limits.write)
    sql = (
        f"UPDATE {writer.table} t SET {writer.vector} = CAST(d.v AS vector) "
        "FROM unnest(CAST(%s AS text[]), CAST(%s AS text[])) AS d(id, v) "
        f"WHERE t.{writer.id} = d.id"
    )

    def text(row: Rows) -> str:
        return "[" + ",".join(map(repr, row.tolist())) + "]"

    def update(ids: list[str], rows: Rows) -> int:
        for s in range(0, len(ids), size):
            with writer.engine.begin() as conn:
                vecs = [text(r) for r in rows[s : s + size]]
                conn.exec_driver_sql(sql, (ids[s : s + size], vecs))
        return -(-len(ids) // size)

    return update


def _milvus(writer: Any) -> Callable[[list[str], Rows], int]:
    """Milvus's own fastest update of vectors: a partial upsert of id and vector where
    the client and server take one (``partial_update=True``, Milvus 2.6.2 / Lite 3.2.2),
    as the package's writer does then; else each request reads the rows (every field) and
    upserts them with their new vectors, as the Milvus docs show for an update."""
    from nudge_integrations.stores.milvus.writer import partial_updates

    size = int(writer.limits.write)
    client, name, key, vec = writer.client, writer.collection, writer.id_field, writer.vector_field
    partial = partial_updates(client, name, key, vec)
    as_key = int if partial and writer._primary_is_int() else str

    def update(ids: list[str], rows: Rows) -> int:
        for s in range(0, len(ids), size):
            new = dict(zip(ids[s : s + size], rows[s : s + size], strict=True))
            if partial:
                data = [{key: as_key(i), vec: v.tolist()} for i, v in new.items()]
                client.upsert(collection_name=name, data=data, partial_update=True)
                continue
            got = client.get(collection_name=name, ids=ids[s : s + size], output_fields=["*"])
            for row in got:
                row[vec] = new[str(row[key])].tolist()
            client.upsert(collection_name=name, data=got)
        return -(-len(ids) // size)

    update.method = "partial upsert (id, vector)" if partial else "get + upsert of whole rows"  # type: ignore[attr-defined]
    return update
