"""LangChain's ``LanceDB`` store (``langchain_community.vectorstores``, embedded): ids,
text and vectors in the columns it names (``id``, ``text``, ``vector`` by default), metadata
in its ``metadata`` struct column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.langchain.stores import Loaded, StoreAdapter, _meta
from nudge_integrations.stores.lancedb import LanceDBWriter


class LanceDBAdapter(StoreAdapter):
    """Reads and writes through a fresh table handle, as the store's own searches do."""

    def _table(self) -> Any:
        table = self.store.get_table() or getattr(self.store, "_table", None)
        if table is None:
            raise NudgeError(
                f"the LanceDB table {self.store._table_name!r} does not exist yet: add "
                "documents first"
            )
        return table

    def writer(self) -> LanceDBWriter:
        return LanceDBWriter(
            self._table(), id_column=self.store._id_key, vector_column=self.store._vector_key
        )

    def load(self) -> Loaded:
        writer = self.writer()
        table, text_key = writer.table, self.store._text_key
        columns = [writer.id_column, text_key, writer.vector_column]
        has_meta = "metadata" in table.schema.names
        got = table.search().select(columns + (["metadata"] if has_meta else [])).to_arrow()
        ids = [str(i) for i in got.column(writer.id_column).to_pylist()]
        texts = got.column(text_key).to_pylist()
        metas = got.column("metadata").to_pylist() if has_meta else [None] * len(ids)
        docs = [
            Document(id=i, page_content=t or "", metadata=_meta(m))
            for i, t, m in zip(ids, texts, metas, strict=True)
        ]
        return Loaded(docs, writer.vectors_of(got))

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        writer, text_key = self.writer(), self.store._text_key
        got = writer.rows(ids, [text_key])
        if got is None:
            return {}
        keys = got.column(writer.id_column).to_pylist()
        return {
            str(k): t or "" for k, t in zip(keys, got.column(text_key).to_pylist(), strict=True)
        }
