"""LangChain's ``Chroma`` (``langchain_chroma``, embedded or client/server): its
collection keeps text, metadata and vectors by id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nudge_integrations.compat.langchain import chroma_collection
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.chroma.writer import ChromaWriter
from nudge_integrations.stores.markers import without_marker


def bind(store: Any) -> Bound:
    """A LangChain ``Chroma`` store bound for the lifecycle."""
    collection = chroma_collection(store)
    writer = ChromaWriter(collection)

    def read_texts(ids: list[str]) -> dict[str, str]:
        got = collection.get(ids=ids, include=["documents"])
        return {str(i): t or "" for i, t in zip(got["ids"], got["documents"] or [], strict=False)}

    def records() -> Iterator[list[Record]]:
        include = ["documents", "metadatas", "embeddings"]
        for ids, got in writer.pages(writer.limits.read, include):
            texts, metas, embs = got.get("documents"), got.get("metadatas"), got.get("embeddings")
            page = []
            for n, doc_id in enumerate(ids):
                vec = embs[n] if embs is not None else None
                page.append(
                    Record(
                        doc_id,
                        (texts[n] if texts is not None else None) or "",
                        without_marker(metas[n] if metas is not None else None),
                        None if vec is None else np.asarray(vec, dtype=np.float32),
                    )
                )
            yield page

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
