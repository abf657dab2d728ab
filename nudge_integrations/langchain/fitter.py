"""``NudgeFitter``: NUDGE for LangChain documents and vector stores.

Fit from ``Document``s with ids (embedded with any ``Embeddings``) or from a vector store
(its documents and stored vectors, re-embedding only what it cannot return), then serve
a :class:`NudgeRetriever` or write the nudged vectors into the store in place, with
``revert`` to the base vectors and ``reapply`` after a re-index.

LangChain's ``index()`` API and plain re-adds (``add_documents``) re-embed documents and
overwrite whatever vector the store held, nudged or not. After such a re-index, call
:meth:`NudgeFitter.reapply` to write the nudge back (documents whose text changed are
skipped and reported, since their nudge no longer fits them).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from numpy.typing import NDArray

from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pairs import qa_dataset
from nudge_integrations.errors import NotFittedError, NudgeError
from nudge_integrations.langchain.ids import document_ids
from nudge_integrations.langchain.retriever import NudgeRetriever
from nudge_integrations.langchain.stores import adapter_for
from nudge_integrations.stores import require_inner_product, swap_vectors


@dataclass
class ReapplyReport:
    """What :meth:`NudgeFitter.reapply` did."""

    written: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class NudgeFitter:
    """Construct with the embeddings and NUDGE parameters, ``fit``, then serve or swap in.

    Learned state: ``documents_``, ``ids_``, ``base_vectors_`` (rows aligned with ids),
    ``result_`` (the core's :class:`NudgeResult`), ``notes_``.
    """

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        variant: Literal["N", "M"] = "N",
        gamma: float | None = None,
        metric: str = "hit",
        k: int = 1,
        device: str = "auto",
        **fit_params: Any,
    ) -> None:
        if variant not in ("N", "M"):
            raise NudgeError(f"variant must be 'N' or 'M', got {variant!r}")
        self.embeddings = embeddings
        self.variant = variant
        self.fit_params = {"gamma": gamma, "metric": metric, "k": k, "device": device, **fit_params}
        self._query_cache: dict[str, NDArray[np.float32]] = {}

    # ----------------------------------------------------------------- fit
    def fit(
        self, source: Sequence[Document] | VectorStore, train: Any, *, val: Any = None
    ) -> NudgeFitter:
        """Fit on documents (each with an id) or a vector store, and QA pairs."""
        notes: list[str] = []
        if isinstance(source, VectorStore):
            loaded = adapter_for(source).load()
            documents, stored = loaded.documents, loaded.vectors
        elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
            documents, stored = list(source), {}
        else:
            raise NudgeError(
                f"{type(source).__name__} is not supported as a source: pass a list of "
                "Documents or a LangChain VectorStore"
            )
        if not documents:
            raise NudgeError("no documents to fit on")
        ids = document_ids(documents)
        missing = [i for i in ids if i not in stored]
        if isinstance(source, VectorStore) and missing:
            notes.append(
                f"{type(source).__name__} returned no vector for {len(missing)} of {len(ids)} "
                "documents; those were re-embedded"
            )
        base = self._base_matrix(documents, ids, stored)
        corpus = {i: d.page_content for i, d in zip(ids, documents, strict=True)}
        train_ds = qa_dataset(train, corpus, name="training")
        val_ds = None if val is None else qa_dataset(val, corpus, name="validation")
        estimator = NudgeN(**self._params()) if self.variant == "N" else NudgeM(**self._params())
        val_args: tuple[Any, Any] = (None, None)
        if val_ds is not None:
            val_args = (self._embed_queries(val_ds), val_ds.judgements())
        estimator.fit(
            base, self._embed_queries(train_ds), train_ds.judgements(), *val_args, ids=ids
        )
        self.documents_ = documents
        self.ids_ = ids
        self.base_vectors_ = base
        self.result_: NudgeResult = estimator.result_
        self.notes_ = notes + list(self.result_.notes)
        return self

    def _params(self) -> dict[str, Any]:
        return dict(self.fit_params)

    def _base_matrix(
        self, documents: list[Document], ids: list[str], stored: dict[str, NDArray[np.float32]]
    ) -> NDArray[np.float32]:
        missing = [n for n, i in enumerate(ids) if i not in stored]
        if missing:
            texts = [documents[n].page_content for n in missing]
            for n, vec in zip(missing, self.embeddings.embed_documents(texts), strict=True):
                stored[ids[n]] = np.asarray(vec, dtype=np.float32)
        dims = {stored[i].shape for i in ids}
        if len(dims) != 1:
            raise NudgeError(
                f"document vectors disagree in dimension {sorted(dims)}: the store was built "
                "with another embedding model; pass that model"
            )
        return np.stack([stored[i] for i in ids]).astype(np.float32)

    def _embed_queries(self, ds: QADataset) -> NDArray[np.float32]:
        texts = [ds.queries[q] for q in ds.query_ids]
        for text in dict.fromkeys(t for t in texts if t not in self._query_cache):
            self._query_cache[text] = np.asarray(self.embeddings.embed_query(text), np.float32)
        return np.stack([self._query_cache[t] for t in texts]).astype(np.float32)

    # ----------------------------------------------------------------- results
    def _fitted(self) -> NudgeResult:
        result: NudgeResult | None = getattr(self, "result_", None)
        if result is None:
            raise NotFittedError("call fit(...) first")
        return result

    @property
    def gamma_(self) -> float:
        return self._fitted().gamma

    def nudged_vectors(self) -> dict[Hashable, NDArray[np.float32]]:
        """The vectors that moved, by document id."""
        return self._fitted().as_dict()

    def nudged_matrix(self) -> NDArray[np.float32]:
        """Every document's vector after NUDGE, rows aligned with ``ids_``."""
        return self._fitted().apply(self.base_vectors_)

    def as_retriever(self, k: int = 4, **kwargs: Any) -> NudgeRetriever:
        """An exact inner-product retriever over the nudged vectors."""
        return NudgeRetriever(
            documents=self.documents_,
            vectors=self.nudged_matrix(),
            embeddings=self.embeddings,
            k=k,
            **kwargs,
        )

    # ----------------------------------------------------------------- stores
    def swap_in(self, store: VectorStore | Any) -> list[str]:
        """Write the moved documents' nudged vectors into ``store`` (same ids, text and
        metadata); all or nothing. NUDGE-M is refused by stores not ranking by inner product."""
        result = self._fitted()
        writer = adapter_for(store).writer()
        if result.variant == "M":
            require_inner_product(writer.similarity, type(store).__name__)
        moved = {str(i): v for i, v in result.as_dict().items()}
        swap_vectors(writer, moved, dim=result.dim)
        return list(moved)

    def revert(self, store: VectorStore | Any, ids: Sequence[str] | None = None) -> list[str]:
        """Write the base vectors back (of ``ids``, default: every moved document)."""
        result = self._fitted()
        chosen = [str(i) for i in (result.ids if ids is None else ids)]
        row = {i: n for n, i in enumerate(self.ids_)}
        unknown = [i for i in chosen if i not in row]
        if unknown:
            raise NudgeError(f"document {unknown[0]!r} was not part of this fit")
        writer = adapter_for(store).writer()
        base = {i: self.base_vectors_[row[i]] for i in chosen}
        swap_vectors(writer, base, dim=self.base_vectors_.shape[1])
        return chosen

    def reapply(self, store: VectorStore | Any) -> ReapplyReport:
        """Re-write the nudge after a re-index overwrote it (``index()``, re-adds).

        Documents whose text changed since the fit, or that left the store, are skipped and
        reported: refit to nudge them again.
        """
        result = self._fitted()
        adapter = adapter_for(store)
        now = {d.id: d.page_content for d in adapter.load().documents}
        text = {i: d.page_content for i, d in zip(self.ids_, self.documents_, strict=True)}
        report = ReapplyReport()
        moved = {str(i): v for i, v in result.as_dict().items()}
        keep = {}
        for i, vec in moved.items():
            if i not in now:
                report.missing.append(i)
            elif now[i] != text[i]:
                report.changed.append(i)
            else:
                keep[i] = vec
        writer = adapter.writer()
        if result.variant == "M":
            require_inner_product(writer.similarity, type(store).__name__)
        swap_vectors(writer, keep, dim=result.dim)
        report.written = list(keep)
        return report
