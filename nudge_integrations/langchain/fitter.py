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

import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path
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
from nudge_integrations.langchain import ledger as ledger_ops
from nudge_integrations.langchain.ids import document_ids
from nudge_integrations.langchain.persist import (
    documents_from_state,
    documents_state,
    load_folder,
    save_folder,
)
from nudge_integrations.langchain.retriever import NudgeRetriever
from nudge_integrations.langchain.stores import adapter_for
from nudge_integrations.model_identity import model_name
from nudge_integrations.stores import lifecycle, require_inner_product
from nudge_integrations.stores.ledger import text_hash
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport, base_from_ledger
from nudge_integrations.stores.location import LedgerLike, find_ledger, ledger_for_write

_SAVED = "nudge_fitter.json"

#: What :meth:`NudgeFitter.reapply` did (the same report as a swap).
ReapplyReport = SwapReport


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
        self,
        source: Sequence[Document] | VectorStore,
        train: Any,
        *,
        val: Any = None,
        ledger: LedgerLike = None,
    ) -> NudgeFitter:
        """Fit on documents (each with an id) or a vector store, and QA pairs.

        From a store that was nudged before, the base vectors come from its nudge ledger
        (found beside the store, through the records' markers, or at ``ledger``), so nudges
        never compound; a store whose records are marked nudged but whose ledger is gone
        is refused.
        """
        notes: list[str] = []
        self.ledger_: Path | None = None
        if isinstance(source, VectorStore):
            adapter = adapter_for(source)
            loaded = adapter.load()
            documents, stored = loaded.documents, loaded.vectors
            found = find_ledger(adapter.writer(), ledger, list(stored))
            if found is not None and found.exists:
                texts = {str(d.id): d.page_content for d in documents}
                restored = base_from_ledger(found, stored, texts)
                self.ledger_ = found.path
                if restored:
                    notes.append(
                        f"base vectors of {len(restored)} nudged documents read from the "
                        f"ledger at {found.path}"
                    )
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

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to a folder without pickle: documents, settings, gamma, the curve,
        the ledger's path and the model's name (JSON), base and nudged vectors (``.npy``).
        The embeddings object is never written. Returns the folder."""
        result = self._fitted()
        state = {
            "variant": self.variant,
            "fit_params": self.fit_params,
            "ids": self.ids_,
            "documents": documents_state(self.documents_),
            "result": result.to_state(),
            "ledger": None if self.ledger_ is None else str(self.ledger_),
            "notes": self.notes_,
        }
        arrays = {"base": self.base_vectors_, "nudged": result.vectors}
        return save_folder(path, state, arrays, json_name=_SAVED, embeddings=self.embeddings)

    @classmethod
    def load(
        cls, path: str | Path, embeddings: Embeddings, *, check_model: bool = True
    ) -> NudgeFitter:
        """Rebuild a fitter written by :meth:`save`; ``embeddings`` must be the model that
        made its vectors (its name is checked unless ``check_model=False``)."""
        state, arrays = load_folder(
            path,
            ["base", "nudged"],
            json_name=_SAVED,
            what="NudgeFitter",
            embeddings=embeddings,
            check_model=check_model,
        )
        try:
            params = dict(state["fit_params"])
            fitter = cls(embeddings, variant=state["variant"], **params)
            fitter.documents_ = documents_from_state(state["documents"])
            fitter.ids_ = [str(i) for i in state["ids"]]
            fitter.base_vectors_ = arrays["base"]
            fitter.result_ = NudgeResult.from_state(state["result"], arrays["nudged"])
            fitter.ledger_ = None if state.get("ledger") is None else Path(state["ledger"])
            fitter.notes_ = list(state.get("notes", []))
        except (KeyError, TypeError) as exc:
            raise NudgeError(f"{Path(path) / _SAVED} is incomplete (no {exc}): save again") from exc
        return fitter

    def __repr__(self) -> str:
        fitted = getattr(self, "result_", None)
        where = (
            f", fitted on {len(self.ids_)} documents, gamma={fitted.gamma:.4g}, "
            f"moved {len(fitted.ids)}"
            if fitted is not None
            else ""
        )
        name = model_name(self.embeddings)
        return f"NudgeFitter(variant={self.variant!r}, embeddings={name!r}{where})"

    # ----------------------------------------------------------------- stores
    def _hashes(self) -> dict[str, str]:
        docs = zip(self.ids_, self.documents_, strict=True)
        return {i: text_hash(d.page_content) for i, d in docs}

    def swap_in(self, store: VectorStore | Any, *, ledger: LedgerLike = None) -> SwapReport:
        """Write the moved documents' nudged vectors into ``store`` (same ids, text and
        metadata), through the store's nudge ledger: base vectors are kept there first, so
        :func:`revert` works from any process. All or nothing. Documents whose text changed
        since the fit are skipped and reported. NUDGE-M is refused by stores not ranking by
        inner product. Iterating the report gives the ids written."""
        result = self._fitted()
        adapter = adapter_for(store)
        writer = adapter.writer()
        if result.variant == "M":
            require_inner_product(writer.similarity, type(store).__name__)
        moved = {str(i): v for i, v in result.as_dict().items()}
        found = ledger_for_write(writer, ledger or self.ledger_, list(moved))
        row = {i: n for n, i in enumerate(self.ids_)}
        report = lifecycle.swap(
            writer,
            found,
            moved,
            {i: self.base_vectors_[row[i]] for i in moved},
            self._hashes(),
            variant=result.variant,
            gamma=result.gamma,
            model=model_name(self.embeddings),
            dim=result.dim,
            texts=adapter.texts,
        )
        self.ledger_ = found.path
        _warn_skipped(report)
        return report

    def revert(
        self,
        store: VectorStore | Any,
        ids: Sequence[str] | None = None,
        *,
        ledger: LedgerLike = None,
    ) -> SwapReport:
        """Write the base vectors back from the store's ledger (of ``ids``, default every
        nudged document). Works unfitted and in a new process: the ledger is enough."""
        report = ledger_ops.revert(store, ids, ledger=ledger or getattr(self, "ledger_", None))
        _warn_skipped(report)
        return report

    def reapply(self, store: VectorStore | Any, *, ledger: LedgerLike = None) -> SwapReport:
        """Re-write the nudge after a re-index overwrote it (``index()``, re-adds).

        Documents whose text changed since the fit, or that left the store, are skipped and
        reported (``changed``, ``missing``): refit to nudge them again.
        """
        return self.swap_in(store, ledger=ledger)

    def status(self, store: VectorStore | Any, *, ledger: LedgerLike = None) -> LedgerStatus:
        """Whether ``store`` holds base vectors, nudged vectors, or is half-swapped."""
        return ledger_ops.status(store, ledger=ledger or getattr(self, "ledger_", None))


def _warn_skipped(report: SwapReport) -> None:
    if report.changed or report.missing:
        warnings.warn(
            f"{len(report.changed)} documents whose text changed since the ledger was written "
            f"and {len(report.missing)} no longer in the store were left as they are "
            f"(e.g. {(report.changed + report.missing)[0]!r}): refit to nudge them",
            stacklevel=3,
        )
