"""The fit behind ``NudgeFitter``: NUDGE for LangChain documents and vector stores.

Fit from ``Document``s with ids (embedded with any ``Embeddings``) or from a vector store
(its documents and stored vectors, re-embedding only what it cannot return), then serve
a :class:`NudgeRetriever` or write the nudged vectors into the store in place, with
``revert`` to the base vectors and ``reapply`` after a re-index. The workflow is the one
the LlamaIndex adapter shares (``nudge_integrations.session``).

LangChain's ``index()`` API and plain re-adds (``add_documents``) re-embed documents and
overwrite whatever vector the store held, nudged or not. After such a re-index, call
:meth:`NudgeFitter.reapply` to write the nudge back (documents whose text changed are
skipped and reported, since their nudge no longer fits them).
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from numpy.typing import NDArray

from nudge_integrations.core import NudgeResult
from nudge_integrations.core.arguments import checked, positive_int
from nudge_integrations.core.errors import NotFittedError, NudgeError
from nudge_integrations.core.params import estimator_params
from nudge_integrations.core.sources import RECALL_SAMPLE
from nudge_integrations.data.chunks import DEFAULT_RULE, ChunkRule
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pairs import qa_dataset
from nudge_integrations.langchain import ledger as lc_store
from nudge_integrations.langchain.embedding import QueryEmbedder
from nudge_integrations.langchain.ids import document_ids
from nudge_integrations.langchain.persist import documents_from_state, documents_state
from nudge_integrations.model_identity import model_name
from nudge_integrations.session import FitSpec, StoreSession, StoreSource, judgements, run_fit
from nudge_integrations.session.fitting import SwapTarget, check_probe, check_records
from nudge_integrations.session.persist import load_folder, save_folder
from nudge_integrations.session.verbs import StoreVerbs
from nudge_integrations.stores.lifecycle import SwapReport
from nudge_integrations.stores.location import LedgerLike

if TYPE_CHECKING:
    from typing_extensions import Self

_SAVED = "nudge_fitter.json"
_OWN_ARGS = (
    "embeddings",
    "variant",
    "queries_as_documents",
    "batch_size",
    "concurrency",
    "show_progress",
    "relevant_chunks",
)

#: What :meth:`NudgeFitter.reapply` did (the same report as a swap).
ReapplyReport = SwapReport


@dataclass
class _Prepared:
    """A fit's checked inputs before the questions are embedded."""

    documents: list[Document]
    ids: list[str]
    base: NDArray[np.float32]
    train: QADataset
    val: QADataset | None
    notes: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: Store-native fits: the store's writer (its own search) and the base vectors in hand.
    source: StoreSource | None = None
    #: The similarity and name of the store read (None: documents), for the NUDGE-M warning.
    target: SwapTarget | None = None

    def query_texts(self) -> list[str]:
        sets = [self.train] + ([self.val] if self.val is not None else [])
        return [ds.queries[q] for ds in sets for q in ds.query_ids]


class FitterCore(StoreVerbs):
    """Everything :class:`~nudge_integrations.langchain.NudgeFitter` does but serve a
    retriever (kept apart so ``NudgeRetriever.fit`` can fit without importing it back).
    Construct with the embeddings and NUDGE parameters, ``fit``, then swap in.

    Learned state: ``documents_``, ``ids_``, ``base_vectors_`` (rows aligned with ids),
    ``result_`` (the core's :class:`NudgeResult`), ``notes_``, ``ledger_``, ``native_``,
    ``index_recall_``.

    With validation questions, the final nudge uses the training and validation questions
    at the gamma chosen on validation (``refit_with_validation=True``, measured better on
    SciFact: docs/paper-comparison.md); pass ``refit_with_validation=False`` for the
    reference's behaviour (training questions only).
    """

    @checked
    def __init__(
        self,
        embeddings: Embeddings,
        *,
        variant: str = "N",
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
        params = {"gamma": gamma, "metric": metric, "k": k, "device": device, **fit_params}
        self._spec = FitSpec.checked(
            variant, relevant_chunks, params, where="NudgeFitter", own=_OWN_ARGS
        )
        batch_size = positive_int(batch_size, "batch_size")
        concurrency = positive_int(concurrency, "concurrency")
        self._queries = QueryEmbedder(
            embeddings,
            as_documents=queries_as_documents,
            batch_size=batch_size,
            concurrency=concurrency,
            show_progress=show_progress,
        )
        self.embeddings = embeddings
        self.variant = self._spec.variant
        self.relevant_chunks = self._spec.relevant_chunks
        self.fit_params: dict[str, Any] = self._spec.params
        self.queries_as_documents = queries_as_documents
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.show_progress = show_progress
        self.result_: NudgeResult | None = None
        self.ledger_: Path | None = None
        self.native_ = False
        self.index_recall_: float | None = None
        self.notes_: list[str] = []

    @classmethod
    def accepted(cls, variant: str) -> set[str]:
        """Keyword arguments the constructor takes with ``variant``: its own and the
        estimator's (for callers that pass ``**fit_params`` on, to check them first)."""
        own = set(inspect.signature(cls.__init__).parameters) - {"self", "fit_params"}
        return own | estimator_params(variant)

    # ----------------------------------------------------------------- fit
    @checked
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
    ) -> Self:
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

        Every check that needs no question vector runs before the first question is
        embedded, then one question checks the model's dimension: a wrong model or a bad
        vector costs one embedding call, not one per question.
        """
        prepared = self._prepare(source, train, val, ledger, id_key, native, recall_sample)
        questions = prepared.query_texts()
        self._queries.embed(questions[:1])
        self._check_probe(prepared, questions[:1])
        self._queries.embed(questions)
        return self._finish(prepared)

    @checked
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
    ) -> Self:
        """:meth:`fit`, embedding the questions with ``aembed_query`` (``concurrency`` at a
        time) or ``aembed_documents`` (``queries_as_documents=True``)."""
        prepared = self._prepare(source, train, val, ledger, id_key, native, recall_sample)
        questions = prepared.query_texts()
        await self._queries.aembed(questions[:1])
        self._check_probe(prepared, questions[:1])
        await self._queries.aembed(questions)
        return self._finish(prepared)

    def _check_probe(self, p: _Prepared, first: list[str]) -> None:
        """The first question's vector against the documents' dimension."""
        if first:
            probe = self._queries.matrix(first)[0]
            check_probe(probe, p.base.shape[1], what="document", question=first[0])

    def _prepare(
        self,
        source: Sequence[Document] | VectorStore,
        train: Any,
        val: Any,
        ledger: LedgerLike,
        id_key: str | None,
        native: bool,
        recall_sample: int,
    ) -> _Prepared:
        """Inputs read and checked (:meth:`_read`), then every check that needs no
        question vector: the device, the store NUDGE-M would be swapped into (a warning),
        the document vectors."""
        self._spec.check_device()
        prepared = self._read(source, train, val, ledger, id_key, native, recall_sample)
        if prepared.target is not None:
            advice = self.NATIVE_M_ADVICE if native else None
            self._spec.warn_unswappable(prepared.target, advice)
        check_records(prepared.base, prepared.ids, "document")
        return prepared

    def _read(
        self,
        source: Sequence[Document] | VectorStore,
        train: Any,
        val: Any,
        ledger: LedgerLike,
        id_key: str | None,
        native: bool,
        recall_sample: int,
    ) -> _Prepared:
        """Documents, base vectors (from the ledger where nudged) and QA data, all checked."""
        self.ledger_, self.native_, self.index_recall_ = None, bool(native), None
        if native:
            return self._prepare_native(source, train, val, ledger, id_key, recall_sample)
        notes: list[str] = []
        stored: dict[str, NDArray[np.float32]] = {}
        target = None
        if isinstance(source, VectorStore):
            session = lc_store.session_of(source, ledger)
            target = SwapTarget.of(session.bound)
            documents, stored = lc_store.read_all(session.bound, self.show_progress)
            texts = {str(d.id): d.page_content for d in documents}
            self.ledger_, restored = session.bases_from_ledger(stored, texts, list(stored))
            if restored:
                notes.append(
                    f"base vectors of {len(restored)} nudged documents read from the "
                    f"ledger at {self.ledger_}"
                )
        elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
            documents = list(source)
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
        self._spec.check_training_size(
            len(train_ds), val_ds is not None, hint="val=[(question, [ids]), ...]"
        )
        missing = [i for i in ids if i not in stored]
        if isinstance(source, VectorStore) and missing:
            notes.append(
                f"{type(source).__name__} returned no vector for {len(missing)} of {len(ids)} "
                "documents; those were re-embedded"
            )
        base = self._base_matrix(documents, ids, stored)
        return _Prepared(documents, ids, base, train_ds, val_ds, notes, groups, target=target)

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
        session = lc_store.session_of(source, ledger)
        train_ds = qa_dataset(train, None, name="training")
        val_ds = None if val is None else qa_dataset(val, None, name="validation")
        # the documents the questions name, not every document a QA dataset carries
        # (paper_split and generated QA keep their whole corpus beside the questions)
        sets = [ds for ds in (train_ds, val_ds) if ds is not None]
        named = list(
            dict.fromkeys(d for ds in sets for q in ds.query_ids for d in ds.relevant_docs[q])
        )
        got = session.native_inputs(named)
        self.ledger_ = got.ledger
        documents = [Document(id=i, page_content=got.texts.get(i, "")) for i in named]
        base = np.stack([got.vectors[i] for i in named]).astype(np.float32)
        source_state = StoreSource(session.writer, got.known, int(recall_sample))
        target = SwapTarget.of(session.bound)
        return _Prepared(
            documents, named, base, train_ds, val_ds, got.notes, {}, source_state, target
        )

    def _finish(self, p: _Prepared) -> Self:
        """Fit on prepared inputs whose questions are embedded."""
        val_q = val_rel = None
        if p.val is not None:
            val_q = self._queries.matrix([p.val.queries[q] for q in p.val.query_ids])
            val_rel = self._judgements(p, p.val, val_q)
        train_q = self._queries.matrix([p.train.queries[q] for q in p.train.query_ids])
        fitted = run_fit(
            self._spec,
            train_q,
            self._judgements(p, p.train, train_q),
            val_q,
            val_rel,
            base=p.base,
            ids=p.ids,
            source=p.source,
        )
        self.documents_, self.ids_, self.base_vectors_ = p.documents, p.ids, p.base
        self.result_, self.index_recall_ = fitted.result, fitted.index_recall
        self.notes_ = p.notes + list(fitted.result.notes)
        return self

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
        return judgements(
            ds,
            queries,
            chunks_of=p.groups,
            known=set(p.ids),
            vectors=dict(zip(p.ids, p.base, strict=True)),
            rule=self.relevant_chunks,
        )

    # ----------------------------------------------------------------- results
    def _fitted(self) -> NudgeResult:
        if self.result_ is None:
            raise NotFittedError("call fit(...) first")
        return self.result_

    @property
    def gamma_(self) -> float:
        return self._fitted().gamma

    def nudged_vectors(self) -> dict[Hashable, NDArray[np.float32]]:
        """The vectors that moved, by document id."""
        return self._fitted().as_dict()

    def nudged_matrix(self) -> NDArray[np.float32]:
        """Every document's vector after NUDGE, rows aligned with ``ids_``."""
        result = self._fitted()
        if self.native_:
            raise NudgeError(
                "this fit was made store-native: it holds only the documents the questions "
                "name, not the corpus. swap_in(store) and serve from the store "
                "(store.as_retriever(); NUDGE-M only from a store that ranks by inner "
                "product), or fit without native=True"
            )
        return result.apply(self.base_vectors_)

    # ----------------------------------------------------------------- persistence
    @checked
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
            "native": self.native_,
            "index_recall": self.index_recall_,
        }
        arrays = {"base": self.base_vectors_, "nudged": result.vectors}
        return save_folder(path, state, arrays, json_name=_SAVED, embeddings=self.embeddings)

    @classmethod
    @checked
    def load(cls, path: str | Path, embeddings: Embeddings, *, check_model: bool = True) -> Self:
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
            fitter = cls(embeddings, variant=state["variant"], **dict(state["fit_params"]))
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
        fitted = self.result_
        where = (
            f", fitted on {len(self.ids_)} documents, gamma={fitted.gamma:.4g}, "
            f"moved {len(fitted.ids)}"
            if fitted is not None
            else ""
        )
        name = model_name(self.embeddings)
        return f"{type(self).__name__}(variant={self.variant!r}, embeddings={name!r}{where})"

    # ----------------------------------------------------------------- stores
    # swap_in, reapply, revert, status, finish, rollback and a...: session.StoreVerbs
    NATIVE_M_ADVICE: ClassVar[str] = (
        "This fit was made store-native: fit NudgeFitter(variant='N') natively (unit-norm "
        "vectors, right for this store), or swap into a store configured for inner product "
        "(FAISS MAX_INNER_PRODUCT, Milvus metric 'IP', Chroma hnsw:space 'ip', Qdrant "
        "Distance.DOT), or fit without native=True and serve with fitter.as_retriever()"
    )

    def _session(self, store: Any, ledger: LedgerLike) -> StoreSession:
        return lc_store.session_of(store, ledger)

    def _swap_inputs(
        self,
    ) -> tuple[NudgeResult, dict[str, NDArray[np.float32]], dict[str, str], str | None]:
        result = self._fitted()
        row = {i: n for n, i in enumerate(self.ids_)}
        moved = [str(i) for i in result.ids]
        return (
            result,
            {i: self.base_vectors_[row[i]] for i in moved},
            {i: self.documents_[row[i]].page_content for i in moved},
            model_name(self.embeddings),
        )
