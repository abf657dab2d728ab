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

import asyncio
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from numpy.typing import NDArray

from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.errors import (
    EmptyTrainingSetError,
    NotFittedError,
    NudgeError,
)
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.params import check_fit_params
from nudge_integrations.core.sources import RECALL_SAMPLE, is_record_source
from nudge_integrations.data.chunks import (
    DEFAULT_RULE,
    ChunkRule,
    check_rule,
    needs_chunks,
    to_chunks,
)
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pairs import qa_dataset
from nudge_integrations.langchain import ledger as ledger_ops
from nudge_integrations.langchain.ids import document_ids
from nudge_integrations.langchain.persist import (
    documents_from_state,
    documents_state,
    load_folder,
    save_folder,
)
from nudge_integrations.langchain.retriever import NudgeRetriever
from nudge_integrations.model_identity import model_name
from nudge_integrations.stores import lifecycle, registry, require_inner_product
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.ledger import text_hash
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport, base_from_ledger
from nudge_integrations.stores.location import LedgerLike, find_ledger, ledger_for_write
from nudge_integrations.stores.native_fit import native_inputs

_SAVED = "nudge_fitter.json"

#: What to do instead when a store refuses a store-native NUDGE-M fit.
_NATIVE_M_ADVICE = (
    "This fit was made store-native: fit NudgeFitter(variant='N') natively (unit-norm "
    "vectors, right for this store), or swap into a store configured for inner product "
    "(FAISS MAX_INNER_PRODUCT, Milvus metric 'IP', Chroma hnsw:space 'ip', Qdrant "
    "Distance.DOT), or fit without native=True and serve with fitter.as_retriever()"
)


@dataclass
class _Prepared:
    """A fit's checked inputs before the questions are embedded."""

    documents: list[Document]
    ids: list[str]
    base: NDArray[np.float32]
    train: QADataset
    val: QADataset | None
    notes: list[str]
    groups: dict[str, list[str]]
    #: Store-native fits: the store's writer (its own search) and the ledger's base vectors.
    source: Any = None

    def query_texts(self) -> list[str]:
        sets = [self.train] + ([self.val] if self.val is not None else [])
        return [ds.queries[q] for ds in sets for q in ds.query_ids]


#: What :meth:`NudgeFitter.reapply` did (the same report as a swap).
ReapplyReport = SwapReport


def _load(bound: Bound) -> tuple[list[Document], dict[str, NDArray[np.float32]]]:
    """Every document a bound store holds (metadata without the nudge marker), and the
    vectors it returned for them, read page by page within its read limit."""
    documents: list[Document] = []
    vectors: dict[str, NDArray[np.float32]] = {}
    for page in bound.records() if bound.records is not None else ():
        for r in page:
            documents.append(Document(id=r.id, page_content=r.text, metadata=r.metadata))
            if r.vector is not None:
                vectors[r.id] = r.vector
    return documents, vectors


class NudgeFitter:
    """Construct with the embeddings and NUDGE parameters, ``fit``, then serve or swap in.

    Learned state: ``documents_``, ``ids_``, ``base_vectors_`` (rows aligned with ids),
    ``result_`` (the core's :class:`NudgeResult`), ``notes_``.

    With validation questions, the final nudge uses the training and validation questions
    at the gamma chosen on validation (``refit_with_validation=True``, measured better on
    SciFact: docs/paper-comparison.md); pass ``refit_with_validation=False`` for the
    reference's behaviour (training questions only).
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
        queries_as_documents: bool = False,
        batch_size: int = 64,
        concurrency: int = 8,
        show_progress: bool = False,
        relevant_chunks: ChunkRule = DEFAULT_RULE,
        **fit_params: Any,
    ) -> None:
        if variant not in ("N", "M"):
            raise NudgeError(f"variant must be 'N' or 'M', got {variant!r}")
        self.relevant_chunks: ChunkRule = check_rule(relevant_chunks)
        if batch_size < 1 or concurrency < 1:
            raise NudgeError(
                f"batch_size and concurrency must be positive, got {batch_size} and {concurrency}"
            )
        self.embeddings = embeddings
        self.variant = variant
        self.queries_as_documents = queries_as_documents
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.show_progress = show_progress
        own = [
            "embeddings",
            "variant",
            "queries_as_documents",
            "batch_size",
            "concurrency",
            "show_progress",
            "relevant_chunks",
        ]
        self.fit_params = check_fit_params(
            {
                "gamma": gamma,
                "metric": metric,
                "k": k,
                "device": device,
                "refit_with_validation": True,  # measured better; False: the reference
                **fit_params,
            },
            variant,
            "NudgeFitter",
            own,
        )
        self._query_cache: dict[str, NDArray[np.float32]] = {}

    # ----------------------------------------------------------------- fit
    def fit(
        self,
        source: Sequence[Document] | VectorStore,
        train: Any,
        *,
        val: Any = None,
        ledger: LedgerLike = None,
        id_key: str | None = None,
        native: bool = False,
        recall_sample: int = RECALL_SAMPLE,
    ) -> NudgeFitter:
        """Fit on documents (each with an id) or a vector store, and QA pairs.

        QA pairs name documents by their ids, or, with ``id_key``, by the metadata field
        that holds your own id (what LangChain splitters copy onto every chunk, and what
        ``index()``'s content-hash ids leave you with): a question relevant to a document
        then pulls its chunks by ``relevant_chunks`` (every chunk, or the best one).

        From a store that was nudged before, the base vectors come from its nudge ledger
        (found beside the store, through the records' markers, or at ``ledger``), so nudges
        never compound; a store whose records are marked nudged but whose ledger is gone
        is refused.

        ``native=True`` fits against the store where it lies: only the documents the
        questions name are read (vectors and text), and each validation question's
        competitors come from the store's own search, so memory does not grow with the
        store. Swap the result in with :meth:`swap_in` and serve from the store. On an
        approximate index (Chroma's HNSW, Milvus' non-FLAT indexes) the fit measures the
        store's recall on ``recall_sample`` validation questions against an exact scan
        streamed from the store (0: skip): ``index_recall_`` and the notes hold it.
        """
        prepared = self._prepare(source, train, val, ledger, id_key, native, recall_sample)
        texts = prepared.query_texts()
        missing = [t for t in dict.fromkeys(texts) if t not in self._query_cache]
        self._store_queries(missing, self._embed_sync(missing))
        return self._finish(prepared)

    async def afit(
        self,
        source: Sequence[Document] | VectorStore,
        train: Any,
        *,
        val: Any = None,
        ledger: LedgerLike = None,
        id_key: str | None = None,
        native: bool = False,
        recall_sample: int = RECALL_SAMPLE,
    ) -> NudgeFitter:
        """:meth:`fit`, embedding the questions with ``aembed_query`` (``concurrency`` at a
        time) or ``aembed_documents`` (``queries_as_documents=True``)."""
        prepared = self._prepare(source, train, val, ledger, id_key, native, recall_sample)
        texts = prepared.query_texts()
        missing = [t for t in dict.fromkeys(texts) if t not in self._query_cache]
        self._store_queries(missing, await self._embed_async(missing))
        return self._finish(prepared)

    def _prepare(
        self,
        source: Sequence[Document] | VectorStore,
        train: Any,
        val: Any,
        ledger: LedgerLike,
        id_key: str | None = None,
        native: bool = False,
        recall_sample: int = RECALL_SAMPLE,
    ) -> _Prepared:
        """Documents, base vectors (from the ledger where nudged) and QA data, all checked."""
        notes: list[str] = []
        self.ledger_: Path | None = None
        self.native_ = bool(native)
        self.index_recall_: float | None = None
        if native:
            return self._prepare_native(source, train, val, ledger, id_key, recall_sample)
        if isinstance(source, VectorStore):
            bound = registry.bind(source, "langchain")
            documents, stored = _load(bound)
            found = find_ledger(bound.writer, ledger or ledger_ops.remembered(source), list(stored))
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
        has_ids = all(d.id for d in documents if isinstance(d, Document))
        ids = document_ids(documents, None if has_ids else id_key)
        corpus = {i: d.page_content for i, d in zip(ids, documents, strict=True)}
        groups: dict[str, list[str]] = {}
        if id_key is not None and has_ids:  # your ids in metadata, many chunks per id
            for i, d in zip(ids, documents, strict=True):
                own = d.metadata.get(id_key)
                if own not in (None, "") and str(own) != i:
                    groups.setdefault(str(own), []).append(i)
            for own, members in groups.items():
                corpus.setdefault(own, corpus[members[0]])
        train_ds = qa_dataset(train, corpus, name="training")
        val_ds = None if val is None else qa_dataset(val, corpus, name="validation")
        if val_ds is None and self.fit_params.get("gamma") is None and len(train_ds) < 2:
            raise EmptyTrainingSetError(
                "need at least 2 training questions to hold some out for choosing gamma: add "
                "questions, pass val=[(question, [ids]), ...], or fix gamma="
            )
        missing = [i for i in ids if i not in stored]
        if isinstance(source, VectorStore) and missing:
            notes.append(
                f"{type(source).__name__} returned no vector for {len(missing)} of {len(ids)} "
                "documents; those were re-embedded"
            )
        base = self._base_matrix(documents, ids, stored)
        return _Prepared(documents, ids, base, train_ds, val_ds, notes, groups)

    def _prepare_native(
        self,
        source: Any,
        train: Any,
        val: Any,
        ledger: LedgerLike,
        id_key: str | None,
        recall_sample: int,
    ) -> _Prepared:
        """Only the documents the questions name: their text and base vectors."""
        if not isinstance(source, VectorStore):
            raise NudgeError("native=True fits against a vector store: pass the store")
        if id_key is not None:
            raise NudgeError(
                "id_key needs every chunk's metadata, which a store-native fit never reads in "
                "bulk: name chunk ids in the QA pairs, or fit without native=True"
            )
        bound = registry.bind(source, "langchain")
        writer = bound.writer
        name = type(source).__name__
        if not is_record_source(writer):
            raise NudgeError(
                f"{name} has no store-native search in nudge-integrations yet: fit without "
                "native=True (which reads the store into memory)"
            )
        train_ds = qa_dataset(train, None, name="training")
        val_ds = None if val is None else qa_dataset(val, None, name="validation")
        # the documents the questions name, not every document a QA dataset carries
        # (paper_split and generated QA keep their whole corpus beside the questions)
        named = list(
            dict.fromkeys(
                doc
                for ds in (train_ds, val_ds)
                if ds is not None
                for q in ds.query_ids
                for doc in ds.relevant_docs.get(q, ())
            )
        )
        prepared = native_inputs(
            bound.texts,
            writer,
            named,
            ledger or ledger_ops.remembered(source),
            what="document",
            label=name,
        )
        self.ledger_ = prepared.ledger
        documents = [Document(id=i, page_content=prepared.texts.get(i, "")) for i in named]
        base = np.stack([prepared.vectors[i] for i in named]).astype(np.float32)
        source_state = (writer, prepared.known, int(recall_sample))
        return _Prepared(documents, named, base, train_ds, val_ds, prepared.notes, {}, source_state)

    def _finish(self, prepared: _Prepared) -> NudgeFitter:
        """Fit the estimator on prepared inputs whose questions are embedded."""
        p = prepared
        estimator = NudgeN(**self._params()) if self.variant == "N" else NudgeM(**self._params())
        val_args: tuple[Any, Any] = (None, None)
        if p.val is not None:
            val_q = self._query_matrix(p.val)
            val_args = (val_q, self._judgements(p, p.val, val_q))
        train_q = self._query_matrix(p.train)
        judged = self._judgements(p, p.train, train_q)
        if p.source is not None:
            writer, overrides, recall_sample = p.source
            fit_by_id(
                estimator,
                writer,
                train_q,
                judged,
                *val_args,
                base=overrides,
                recall_sample=recall_sample,
            )
            self.index_recall_ = getattr(estimator, "index_recall_", None)
        else:
            estimator.fit(p.base, train_q, judged, *val_args, ids=p.ids)
        self.documents_ = p.documents
        self.ids_ = p.ids
        self.base_vectors_ = p.base
        self.result_: NudgeResult = estimator.result_
        self.notes_ = p.notes + list(self.result_.notes)
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

    def _judgements(
        self, p: _Prepared, ds: QADataset, queries: NDArray[np.float32]
    ) -> list[dict[str, float]]:
        """Relevance over documents; ids of ``id_key`` groups become their chunks."""
        judged = ds.judgements()
        if not p.groups or not needs_chunks(judged, set(p.ids)):
            return judged
        return to_chunks(
            judged,
            p.groups,
            set(p.ids),
            rule=self.relevant_chunks,
            queries=queries,
            vectors=dict(zip(p.ids, p.base, strict=True)),
            names=ds.query_ids,
        )

    def _query_matrix(self, ds: QADataset) -> NDArray[np.float32]:
        texts = [ds.queries[q] for q in ds.query_ids]
        missing = [t for t in dict.fromkeys(texts) if t not in self._query_cache]
        if missing:  # a direct caller of _finish; fit and afit embed first
            self._store_queries(missing, self._embed_sync(missing))
        return np.stack([self._query_cache[t] for t in texts]).astype(np.float32)

    def _store_queries(self, texts: list[str], vectors: list[list[float]]) -> None:
        for text, vec in zip(texts, vectors, strict=True):
            self._query_cache[text] = np.asarray(vec, dtype=np.float32)

    def _bar(self, total: int) -> Any:
        if not self.show_progress or not total:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="embedding questions", unit="q")

    def _embed_sync(self, texts: list[str]) -> list[list[float]]:
        """Questions embedded in batches (``queries_as_documents``) or ``embed_query`` on
        ``concurrency`` threads (the model may release the GIL or call an API)."""
        bar = self._bar(len(texts))
        out: list[list[float]] = []
        try:
            if self.queries_as_documents:
                for start in range(0, len(texts), self.batch_size):
                    chunk = texts[start : start + self.batch_size]
                    out.extend(self.embeddings.embed_documents(chunk))
                    if bar is not None:
                        bar.update(len(chunk))
                return out
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for vec in pool.map(self.embeddings.embed_query, texts):
                    out.append(vec)
                    if bar is not None:
                        bar.update(1)
            return out
        finally:
            if bar is not None:
                bar.close()

    async def _embed_async(self, texts: list[str]) -> list[list[float]]:
        """``aembed_documents`` in batches, or ``aembed_query`` ``concurrency`` at a time."""
        bar = self._bar(len(texts))
        gate = asyncio.Semaphore(self.concurrency)

        async def one(text: str) -> list[float]:
            async with gate:
                vec = await self.embeddings.aembed_query(text)
            if bar is not None:
                bar.update(1)
            return vec

        try:
            if self.queries_as_documents:
                out: list[list[float]] = []
                for start in range(0, len(texts), self.batch_size):
                    chunk = texts[start : start + self.batch_size]
                    out.extend(await self.embeddings.aembed_documents(chunk))
                    if bar is not None:
                        bar.update(len(chunk))
                return out
            return list(await asyncio.gather(*(one(t) for t in texts)))
        finally:
            if bar is not None:
                bar.close()

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
        result = self._fitted()
        if getattr(self, "native_", False):
            raise NudgeError(
                "this fit was made store-native: it holds only the documents the questions "
                "name, not the corpus. swap_in(store) and serve from the store "
                "(store.as_retriever(); NUDGE-M only from a store that ranks by inner "
                "product), or fit without native=True"
            )
        return result.apply(self.base_vectors_)

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
            "native": bool(getattr(self, "native_", False)),
            "index_recall": getattr(self, "index_recall_", None),
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
            fitter.native_ = bool(state.get("native", False))
            fitter.index_recall_ = state.get("index_recall")
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

    def swap_in(
        self, store: VectorStore | Any, *, ledger: LedgerLike = None, _allow_missing: bool = False
    ) -> SwapReport:
        """Write the moved documents' nudged vectors into ``store`` (same ids, text and
        metadata), through the store's nudge ledger: base vectors are kept there first, so
        :func:`revert` works from any process. All or nothing. Documents whose text changed
        since the fit are skipped and reported. NUDGE-M is refused by stores not ranking by
        inner product. Iterating the report gives the ids written."""
        result = self._fitted()
        bound = registry.bind(store, "langchain")
        writer = bound.writer
        if result.variant == "M":  # as_retriever() cannot serve a store-native fit
            native = getattr(self, "native_", False)
            advice = _NATIVE_M_ADVICE if native else None
            require_inner_product(writer.similarity, type(store).__name__, advice)
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
            texts=bound.texts,
            allow_missing=_allow_missing,
        )
        self.ledger_ = found.path
        ledger_ops.remember(store, found.path)
        lifecycle.warn_skipped(report, "documents")
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
        return report

    def reapply(self, store: VectorStore | Any, *, ledger: LedgerLike = None) -> SwapReport:
        """Re-write the nudge after a re-index overwrote it (``index()``, re-adds).

        Documents whose text changed since the fit, or that left the store, are skipped and
        reported (``changed``, ``missing``): refit to nudge them again.
        """
        return self.swap_in(store, ledger=ledger, _allow_missing=True)

    def status(self, store: VectorStore | Any, *, ledger: LedgerLike = None) -> LedgerStatus:
        """Whether ``store`` holds base vectors, nudged vectors, or is half-swapped."""
        return ledger_ops.status(store, ledger=ledger or getattr(self, "ledger_", None))
