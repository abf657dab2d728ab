"""LangChain's ``FAISS`` (``langchain_community``, flat indexes): documents in its
``docstore``, index rows mapped to ids by ``index_to_docstore_id``, ranked as its
``distance_strategy`` and the index's metric say together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.documents import Document

from nudge_integrations.compat.langchain import docstore_table, faiss_normalizes
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.base import MARKER, MarkedWriter, batches
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.faiss.writer import FaissFlatWriter
from nudge_integrations.stores.markers import with_marker, without_marker


def _value(x: Any) -> str:
    """An enum's value (or the thing itself) as an upper-case string."""
    return str(getattr(x, "value", x)).upper()


def similarity(store: Any, index_metric: str | None) -> str | None:
    """How a LangChain ``FAISS`` store ranks: its ``distance_strategy`` (what its scores
    mean) checked against the FAISS index's metric (what ``search`` ranks by)."""
    strategy = _value(getattr(store, "distance_strategy", "EUCLIDEAN_DISTANCE"))
    if index_metric == "dot":
        if strategy in ("MAX_INNER_PRODUCT", "DOT_PRODUCT"):
            return "dot"
        if strategy == "COSINE":
            return "cosine"
        return None  # an inner-product index whose scores are read as distances
    if index_metric == "l2":
        # L2 over L2-normalised vectors ranks like cosine
        return "cosine" if faiss_normalizes(store) or strategy == "COSINE" else "l2"
    return None


def metric_note(store: Any, index_metric: str | None) -> str | None:
    """Why :func:`similarity` cannot tell how the store ranks, and how to set it: an
    inner-product index whose ``distance_strategy`` reads its scores as distances is
    what ``FAISS.load_local`` gives without ``distance_strategy`` (it saves the index
    and the docstore, not the strategy, and defaults to ``EUCLIDEAN_DISTANCE``)."""
    if index_metric != "dot" or similarity(store, index_metric) is not None:
        return None
    strategy = _value(getattr(store, "distance_strategy", "EUCLIDEAN_DISTANCE"))
    told = (
        "as FAISS.load_local leaves it when it is not given one (the strategy is not saved)"
        if strategy == "EUCLIDEAN_DISTANCE"
        else "which does not read an inner-product index's scores"
    )
    return (
        f"Its FAISS index ranks by inner product, but the store's distance_strategy is "
        f"{strategy}, {told}: pass distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT "
        "to FAISS.load_local (from langchain_community.vectorstores.utils import "
        "DistanceStrategy), or set store.distance_strategy to it"
    )


class FaissDocstoreWriter(FaissFlatWriter, MarkedWriter):
    """A LangChain FAISS store's flat index, with markers in its docstore's metadata."""

    def __init__(self, store: Any) -> None:
        rows = {str(i): int(pos) for pos, i in store.index_to_docstore_id.items()}
        super().__init__(store.index, rows)
        self.metric_note = metric_note(store, self.similarity)
        self.similarity = similarity(store, self.similarity)
        self.docstore = store.docstore

    def documents(self, ids: Sequence[str]) -> dict[str, Document]:
        """The docstore's documents of those ids the index holds."""
        known = self.position_of
        found = {i: self.docstore.search(i) for i in ids if i in known}
        return {i: d for i, d in found.items() if isinstance(d, Document)}

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        docs = self.documents(ids)
        return {i: str(d.metadata[MARKER]) for i, d in docs.items() if d.metadata.get(MARKER)}

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        table = docstore_table(self.docstore)
        if table is None:
            return  # a docstore that cannot be updated in place carries no markers
        for i, doc in self.documents(ids).items():  # new Documents: never the user's
            table[i] = doc.model_copy(update={"metadata": with_marker(doc.metadata, value)})


def bind(store: Any) -> Bound:
    """A LangChain ``FAISS`` store bound for the lifecycle."""
    writer = FaissDocstoreWriter(store)

    def read_texts(ids: list[str]) -> dict[str, str]:
        return {i: d.page_content for i, d in writer.documents(ids).items()}

    def records() -> Iterator[list[Record]]:
        rows = store.index_to_docstore_id
        for page in batches(sorted(rows), writer.limits.read):
            ids = [str(rows[pos]) for pos in page]
            vectors = writer.read(ids)
            out = []
            for pos, doc_id in zip(page, ids, strict=True):
                doc = store.docstore.search(rows[pos])
                if not isinstance(doc, Document):
                    raise NudgeError(
                        f"the FAISS docstore holds no document for id {doc_id!r} (row {pos})"
                    )
                meta = without_marker(doc.metadata)
                out.append(Record(doc_id, doc.page_content, meta, vectors.get(doc_id)))
            yield out

    return Bound(
        writer,
        type(store).__name__,
        read_texts=read_texts,
        records=records,
        metric_note=writer.metric_note,
    )
