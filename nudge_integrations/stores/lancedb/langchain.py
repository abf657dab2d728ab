"""LangChain's ``LanceDB`` store (``langchain_community.vectorstores``, embedded): ids,
text and vectors in the columns it names (``id``, ``text``, ``vector`` by default),
metadata in its ``metadata`` struct column. Read and written through a fresh table handle,
as the store's own searches are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nudge_integrations.compat.langchain import lancedb_columns, lancedb_table, lancedb_table_name
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.lancedb.writer import LanceDBWriter
from nudge_integrations.stores.markers import without_marker


def bind(store: Any) -> Bound:
    """A LangChain ``LanceDB`` store bound for the lifecycle."""
    import pyarrow as pa

    table = store.get_table() or lancedb_table(store)
    if table is None:
        raise NudgeError(
            f"the LanceDB table {lancedb_table_name(store)!r} does not exist yet: add "
            "documents first"
        )
    id_key, text_key, vector_key = lancedb_columns(store)
    writer = LanceDBWriter(table, id_column=id_key, vector_column=vector_key)

    def read_texts(ids: list[str]) -> dict[str, str]:
        got = writer.rows(ids, [text_key])
        if got is None:
            return {}
        keys = got.column(id_key).to_pylist()
        texts = got.column(text_key).to_pylist()
        return {str(k): t or "" for k, t in zip(keys, texts, strict=True)}

    def records() -> Iterator[list[Record]]:
        has_meta = "metadata" in table.schema.names
        columns = [id_key, text_key, vector_key] + (["metadata"] if has_meta else [])
        scan = table.search().select(columns).to_batches(writer.limits.read)
        for batch in scan:
            got = pa.Table.from_batches([batch])
            ids = [str(i) for i in got.column(id_key).to_pylist()]
            texts = got.column(text_key).to_pylist()
            metas = got.column("metadata").to_pylist() if has_meta else [None] * len(ids)
            vectors = writer.vectors_of(got)
            if ids:
                yield [
                    Record(i, t or "", without_marker(m), vectors.get(i))
                    for i, t, m in zip(ids, texts, metas, strict=True)
                ]

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
