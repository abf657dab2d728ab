"""NUDGE for LlamaIndex: a finetune engine over your nodes, docstore or index.

The engine embeds (or reuses) the corpus vectors and the QA queries with your
``BaseEmbedding``, fits NUDGE through the shared workflow (``nudge_integrations.session``),
and hands back the nudged vectors by node id, a ``VectorStoreIndex`` or retriever over
them, or the user's vector store updated in place. The embed model is unchanged: it stays
the query model.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from llama_index.core import Settings, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
from numpy.typing import NDArray

from nudge_integrations.core import NudgeResult
from nudge_integrations.core.arguments import alias, check_keywords, checked
from nudge_integrations.core.errors import (
    DuplicateIdError,
    EmptyTrainingSetError,
    NotFittedError,
    NudgeError,
    ShapeError,
    UnknownIdError,
    UnknownKeywordError,
)
from nudge_integrations.core.params import estimator_params
from nudge_integrations.core.sources import RECALL_SAMPLE
from nudge_integrations.data.chunks import DEFAULT_RULE, ChunkRule
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import ledger as li_ledger
from nudge_integrations.llama_index import persist
from nudge_integrations.llama_index.corpus import (
    Corpus,
    CorpusLike,
    check_relevant,
    chunks_by_document,
    resolve_corpus,
)
from nudge_integrations.llama_index.embeddings import EmbeddingCache
from nudge_integrations.llama_index.retriever import NudgeRetriever
from nudge_integrations.model_identity import model_name
from nudge_integrations.session import FitSpec, StoreSession, StoreSource, judgements, run_fit
from nudge_integrations.session.fitting import SwapTarget, check_probe, check_records
from nudge_integrations.session.verbs import StoreVerbs
from nudge_integrations.stores.base import require_inner_product
from nudge_integrations.stores.lifecycle import base_from_ledger
from nudge_integrations.stores.location import LedgerLike

_OWN_ARGS = (
    "train_dataset",
    "embed_model",
    "corpus",
    "val_dataset",
    "variant",
    "show_progress",
    "ledger",
    "relevant_chunks",
    "native",
    "recall_sample",
)


class NudgeFinetuneEngine(StoreVerbs):
    """Fine-tune a corpus's embeddings with NUDGE, in the shape of LlamaIndex's finetune engines.

    ``finetune()`` fits; ``get_finetuned_model()`` returns the (unchanged) query model;
    ``get_finetuned_corpus_embeddings()`` the nudged vectors by node id; ``as_index()``,
    ``as_retriever()`` and ``nudged_nodes()`` put them to use; ``swap_in(index)`` writes
    them into the index's store through its nudge ledger (``revert``, ``status``,
    ``finish``, ``rollback``, ``reapply`` as in LangChain's ``NudgeFitter``). Every fit
    starts from the base vectors, so growing, shrinking and re-fitting never compounds.

    With a ``val_dataset``, the final nudge uses the training and validation queries at
    the gamma chosen on validation (``refit_with_validation=True``, measured better on
    SciFact: docs/paper-comparison.md); pass ``refit_with_validation=False`` for the
    reference's behaviour (training queries only).

    ``native=True`` fits against the store behind ``corpus`` (a VectorStoreIndex) where
    it lies. On an approximate index (Chroma's HNSW, Milvus' non-FLAT indexes) the fit
    measures the store's recall on ``recall_sample`` validation queries against an exact
    scan streamed from the store (0: skip); it is in ``index_recall_`` and the notes.
    """

    @checked
    def __init__(
        self,
        train_dataset: Any,
        embed_model: BaseEmbedding | None = None,
        *,
        corpus: CorpusLike = None,
        val_dataset: Any = None,
        variant: str = "N",
        gamma: float | None = None,
        metric: str = "hit",
        k: int = 1,
        device: str = "auto",
        show_progress: bool = False,
        ledger: LedgerLike = None,
        relevant_chunks: ChunkRule = DEFAULT_RULE,
        native: bool = False,
        recall_sample: int = RECALL_SAMPLE,
        **fit_params: Any,
    ) -> None:
        for name in ("index", "nodes", "docstore"):
            if name in fit_params:  # from_defaults' names for the corpus
                raise UnknownKeywordError(
                    f"{type(self).__name__}() got an unexpected keyword {name!r}; pass it as "
                    f"corpus={name}, or use {type(self).__name__}.from_defaults(..., {name}=...)"
                )
        params = {"gamma": gamma, "metric": metric, "k": k, "device": device, **fit_params}
        self._spec = FitSpec.checked(
            variant, relevant_chunks, params, where="NudgeFinetuneEngine", own=_OWN_ARGS
        )
        self.variant = self._spec.variant
        self.relevant_chunks = self._spec.relevant_chunks
        self.fit_params: dict[str, Any] = self._spec.params
        self._train = _dataset(train_dataset, "train_dataset")
        self._val = None if val_dataset is None else _dataset(val_dataset, "val_dataset")
        self.embed_model: BaseEmbedding = embed_model or Settings.embed_model
        self.native_ = bool(native)
        self.recall_sample = int(recall_sample)
        #: Recall@k of the store's search measured by a store-native fit on an
        #: approximate index (None otherwise).
        self.index_recall_: float | None = None
        self.ledger_: Path | None = None
        self.result_: NudgeResult | None = None
        self._source: StoreSource | None = None
        #: The similarity and name of the store the corpus was read from (None: not read
        #: from a store nudge-integrations can swap into), for the NUDGE-M warning.
        self._target: SwapTarget | None = None
        if native:
            self._corpus: Corpus = self._native_corpus(corpus, ledger)
        else:
            self._corpus = resolve_corpus(
                corpus, self._train, self._val, show_progress=show_progress
            )
        self._cache = EmbeddingCache(self.embed_model, show_progress=show_progress)
        self._base: dict[str, NDArray[np.float32]] = dict(self._corpus.stored)
        for note in self._corpus.notes:  # e.g. a store that could not return its vectors
            warnings.warn(note, stacklevel=2)
        if isinstance(corpus, VectorStoreIndex) and not native:
            self._base_from_ledger(corpus, ledger)
        check_relevant(self._corpus.nodes, self._train, self._val)
        self._spec.check_training_size(
            len(self._train), self._val is not None, hint="val_dataset=..."
        )

    @classmethod
    @checked
    def from_defaults(
        cls,
        train_dataset: Any = None,
        embed_model: BaseEmbedding | None = None,
        *,
        corpus: CorpusLike = None,
        nodes: Sequence[BaseNode] | None = None,
        docstore: BaseDocumentStore | None = None,
        index: VectorStoreIndex | None = None,
        **kwargs: Any,
    ) -> NudgeFinetuneEngine:
        """Build an engine, LlamaIndex style: ``from_defaults(train_dataset=qa, index=index)``.

        The corpus comes from at most one of ``corpus``, ``nodes``, ``docstore`` or ``index``
        (none: the QA dataset's own corpus); ``embed_model`` defaults to
        ``Settings.embed_model``; other keywords as the constructor. Nothing is fitted
        until :meth:`finetune`.
        """
        own = set(inspect.signature(cls.__init__).parameters) - {"self", "fit_params"}
        variant = str(kwargs.get("variant", "N"))
        check_keywords(kwargs, own | estimator_params(variant), f"{cls.__name__}.from_defaults")
        if train_dataset is None:
            raise EmptyTrainingSetError(
                "from_defaults needs train_dataset: pass the QA pairs to fit on "
                "(an EmbeddingQAFinetuneDataset, a QADataset or its dict)"
            )
        named = {"corpus": corpus, "nodes": nodes, "docstore": docstore, "index": index}
        given = {name: src for name, src in named.items() if src is not None}
        if len(given) > 1:
            raise NudgeError(
                f"got {', '.join(given)} as the corpus: pass only one of corpus, nodes, "
                "docstore or index"
            )
        source = next(iter(given.values()), None)
        return cls(train_dataset, embed_model, corpus=source, **kwargs)

    def _base_from_ledger(self, index: VectorStoreIndex, ledger: LedgerLike) -> None:
        """Take the base vectors of nudged nodes from the index's ledger, never the store."""
        try:
            session = li_ledger.session_of(index, ledger)
        except NudgeError:
            return  # a store that cannot be updated in place was never nudged by us
        self._target = SwapTarget.of(session.bound)
        found = session.find(self._corpus.ids)
        if found is None:
            return
        self.ledger_ = found.path
        texts = {nid: self._corpus.text(nid) for nid in self._corpus.ids if nid in found}
        for nid in base_from_ledger(found, self._base, texts):
            node = self._corpus.nodes[nid]  # nodes carry the base vectors they stand for
            if node.embedding is not None:
                self._corpus.nodes[nid] = node.model_copy(
                    update={"embedding": self._base[nid].tolist()}
                )

    def _native_corpus(self, index: Any, ledger: LedgerLike) -> Corpus:
        """Only the nodes the QA data names, read by id with their base vectors; the
        store's own search will supply the competitors."""
        if not isinstance(index, VectorStoreIndex):
            raise NudgeError(
                "native=True fits against the vector store behind a VectorStoreIndex: pass "
                "index=... (or corpus=index)"
            )
        session = li_ledger.session_of(index, ledger)
        self._target = SwapTarget.of(session.bound)
        sets = [self._train] + ([self._val] if self._val is not None else [])
        named = list(dict.fromkeys(i for ds in sets for q in ds.query_ids for i in ds.grades(q)))
        nodes = {n.node_id: n for n in li_ledger.nodes_by_id(index, named)}
        absent = [i for i in named if i not in nodes]
        if absent:
            raise UnknownIdError(
                f"the QA data names {absent[0]!r}, which is not a node of this index "
                f"({len(absent)} such ids): fix the id, or, if it is a document's id, fit "
                "without native=True (a store-native fit needs node ids, since mapping "
                "document ids onto their chunks reads every node)"
            )
        got = session.native_inputs(named)
        self.ledger_ = got.ledger
        self._source = StoreSource(session.writer, got.known, self.recall_sample)
        return Corpus({i: nodes[i] for i in named}, stored=got.vectors, notes=[])

    def _whole_corpus(self, what: str) -> None:
        """Refuse what needs every node after a store-native fit, which read only some."""
        if self.native_:
            raise NudgeError(
                f"{what} needs every node, but this engine was fitted store-native and read "
                "only the nodes its questions name: swap_in(index) and serve from the "
                "index (NUDGE-M only from a store that ranks by inner product), or build the "
                "engine without native=True"
            )

    # ---------------------------------------------------------------- fitting
    @checked
    def finetune(self) -> None:
        """Fit NUDGE from the base vectors of the current corpus and QA data.

        Every check that needs no question vector runs before the first question is
        embedded, then one question checks the query model's dimension: a wrong model or
        a bad vector costs one embedding call, not one per question."""
        base = self._before_questions()
        first = self._questions()[:1]
        self._check_probe(self._cache.embed_queries(first), base, first)
        self._fit(base)

    @checked
    async def afinetune(self) -> None:
        """:meth:`finetune`, the questions embedded with ``aget_query_embedding`` on this
        event loop and the fit itself in a worker thread."""
        base = self._before_questions()
        questions = self._questions()
        probe = await self._cache.aembed_queries(questions[:1])
        self._check_probe(probe, base, questions[:1])
        await self._cache.aembed_queries(questions)
        await asyncio.to_thread(self._fit, base)

    def _questions(self) -> list[str]:
        """Every training and validation question's text, training first."""
        sets = [self._train] + ([self._val] if self._val is not None else [])
        return [ds.queries[q] for ds in sets for q in ds.query_ids]

    @staticmethod
    def _check_probe(
        probe: NDArray[np.float32], base: NDArray[np.float32], first: list[str]
    ) -> None:
        """The first question's vector against the nodes' dimension."""
        if len(first) and base.shape[0]:
            check_probe(probe[0], base.shape[1], what="node", question=first[0])

    def _before_questions(self) -> NDArray[np.float32]:
        """The checks a fit makes before embedding a question (device, the store NUDGE-M
        would be swapped into, the node vectors); returns the base vectors."""
        self._spec.check_device()
        if self._target is not None:
            advice = self.NATIVE_M_ADVICE if self.native_ else None
            self._spec.warn_unswappable(self._target, advice)
        if self._source is None:
            ids, base = self._corpus.ids, self.base_embeddings_matrix()
        else:  # store-native: the named nodes' vectors as read, nothing embedded
            ids = [nid for nid in self._corpus.ids if nid in self._base]
            rows = [self._base[nid] for nid in ids]
            base = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
        check_records(base, ids, "node")
        return base

    def _fit(self, base: NDArray[np.float32]) -> None:
        """The fit itself, on checked base vectors (questions embedded or cached)."""
        embed = self._cache.embed_queries
        train_q = embed([self._train.queries[q] for q in self._train.query_ids])
        val_q = val_rel = None
        if self._val is not None and len(self._val):
            val_q = embed([self._val.queries[q] for q in self._val.query_ids])
            val_rel = self._judgements(self._val, val_q)
        fitted = run_fit(
            self._spec,
            train_q,
            self._judgements(self._train, train_q),
            val_q,
            val_rel,
            base=None if self._source is not None else base,
            ids=self._corpus.ids,
            source=self._source,
        )
        self.result_, self.index_recall_ = fitted.result, fitted.index_recall

    def _judgements(self, ds: QADataset, queries: NDArray[np.float32]) -> list[dict[str, float]]:
        """Relevance over nodes: document ids become their chunks' node ids by
        ``relevant_chunks`` (every chunk, or the one the question scores highest)."""
        return judgements(
            ds,
            queries,
            chunks_of=chunks_by_document(self._corpus.nodes),
            known=self._corpus.nodes,
            vectors=self._base,
            rule=self.relevant_chunks,
        )

    # ---------------------------------------------------------------- results
    @property
    def gamma_(self) -> float:
        return self._result().gamma

    def _result(self) -> NudgeResult:
        if self.result_ is None:
            raise NotFittedError("call finetune() first")
        return self.result_

    def get_finetuned_model(self, **kwargs: Any) -> BaseEmbedding:
        """The query embedding model: NUDGE changes record vectors, never the model."""
        return self.embed_model

    def base_embeddings(self) -> dict[str, list[float]]:
        """Base vector of every node, by id (embedded once, then cached)."""
        matrix = self.base_embeddings_matrix()
        return {nid: matrix[i].tolist() for i, nid in enumerate(self._corpus.ids)}

    def base_embeddings_matrix(self) -> NDArray[np.float32]:
        """Base vectors as rows, in corpus order (see ``node_ids``)."""
        ids = self._corpus.ids
        missing = [nid for nid in ids if nid not in self._base]
        if missing:
            vectors = self._cache.embed_texts([self._corpus.text(nid) for nid in missing])
            self._base.update(zip(missing, vectors, strict=True))
        dims = {self._base[nid].shape for nid in ids}
        if len(dims) != 1:
            raise NudgeError(
                f"stored and computed base vectors disagree in dimension {sorted(dims)}: the "
                "index was built with another embed model; pass that model"
            )
        return np.stack([self._base[nid] for nid in ids]).astype(np.float32)

    @property
    def node_ids(self) -> list[str]:
        """Corpus node ids, in the order of the matrices this engine returns."""
        return self._corpus.ids

    @property
    def nodes(self) -> list[BaseNode]:
        """Copies of the corpus nodes (text and metadata as given) carrying their base
        embeddings, in id order: another engine given them embeds nothing again."""
        return self._nodes_with(self.base_embeddings_matrix())

    def _nodes_with(self, matrix: NDArray[np.float32]) -> list[BaseNode]:
        return [
            self._corpus.nodes[nid].model_copy(update={"embedding": matrix[n].tolist()})
            for n, nid in enumerate(self._corpus.ids)
        ]

    def finetuned_matrix(self) -> NDArray[np.float32]:
        """Every node's vector after NUDGE as rows in ``node_ids`` order (L2-normalised base
        rows, nudged rows where a node moved)."""
        self._whole_corpus("finetuned_matrix()")
        return self._result().apply(self.base_embeddings_matrix())

    def get_finetuned_corpus_embeddings(self) -> dict[str, list[float]]:
        """Every node's vector after NUDGE (nudged where it moved, base otherwise), by id."""
        self._whole_corpus("get_finetuned_corpus_embeddings()")
        matrix = self.finetuned_matrix()
        return {nid: matrix[i].tolist() for i, nid in enumerate(self._corpus.ids)}

    def nudged_vectors(self) -> dict[Hashable, NDArray[np.float32]]:
        """Only the vectors that moved, by node id."""
        return self._result().as_dict()

    def nudged_nodes(self) -> list[BaseNode]:
        """Copies of the nodes (text and metadata kept) carrying their nudged vectors."""
        self._whole_corpus("nudged_nodes()")
        return self._nodes_with(self.finetuned_matrix())

    def as_index(
        self, storage_context: StorageContext | None = None, **index_kwargs: Any
    ) -> VectorStoreIndex:
        """A ``VectorStoreIndex`` over the nodes with the nudged vectors.

        NUDGE-M needs an inner-product store: the default (cosine) store is refused with a
        pointer to ``as_retriever()`` or an inner-product store.
        """
        self._whole_corpus("as_index()")
        if self._result().variant == "M":
            target = storage_context.vector_store if storage_context is not None else None
            if target is None:
                require_inner_product("cosine", "the default SimpleVectorStore")
            else:
                bound = li_ledger.bound_of(target)
                require_inner_product(bound.writer.similarity, bound.label)
        return VectorStoreIndex(
            self.nudged_nodes(),
            storage_context=storage_context,
            embed_model=self.embed_model,
            **index_kwargs,
        )

    def as_retriever(
        self,
        similarity_top_k: int = 10,
        *,
        filters: MetadataFilters | MetadataFilter | None = None,
        doc_ids: Sequence[str] | None = None,
        node_ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> NudgeRetriever:
        """Exact retriever over the nudged vectors (inner product; right for N and M).

        Takes ``filters``, ``doc_ids`` and ``node_ids`` like ``VectorStoreIndex.as_retriever``;
        they narrow the candidates before the top-k. ``kwargs`` go to :class:`NudgeRetriever`
        (``similarity``, ``callback_manager``, ``verbose``).
        """
        self._whole_corpus("as_retriever()")
        return NudgeRetriever(
            self.nodes,
            self.finetuned_matrix(),
            self.embed_model,
            similarity_top_k=similarity_top_k,
            filters=filters,
            doc_ids=doc_ids,
            node_ids=node_ids,
            **kwargs,
        )

    # ---------------------------------------------------------------- stores in place
    # swap_in, reapply, revert, status, finish, rollback and a...: session.StoreVerbs
    NATIVE_M_ADVICE: ClassVar[str] = (
        "This engine was fitted store-native: build it with variant='N' (unit-norm vectors, "
        "right for this store), or apply it to an index whose store ranks by inner product "
        "(FAISS IndexFlatIP, Milvus metric 'IP', Chroma hnsw:space 'ip', Qdrant "
        "Distance.DOT), or build it without native=True and serve with engine.as_retriever()"
    )

    def _session(self, store: Any, ledger: LedgerLike) -> StoreSession:
        return li_ledger.session_of(store, ledger)

    def _swap_inputs(
        self,
    ) -> tuple[NudgeResult, dict[str, NDArray[np.float32]], dict[str, str], str | None]:
        result = self._result()
        moved = [str(k) for k in result.ids]
        base = dict(zip(self._corpus.ids, self.base_embeddings_matrix(), strict=True))
        return (
            result,
            {nid: base[nid] for nid in moved},
            {nid: self._corpus.text(nid) for nid in moved},
            model_name(self.embed_model),
        )

    #: LlamaIndex-era names of :meth:`swap_in`, :meth:`revert`, :meth:`status`.
    apply_to_index = alias(StoreVerbs.swap_in, "apply_to_index")
    aapply_to_index = alias(StoreVerbs.aswap_in, "aapply_to_index")
    revert_index = alias(StoreVerbs.revert, "revert_index")
    index_status = alias(StoreVerbs.status, "index_status")

    # ---------------------------------------------------------------- growing
    @checked
    def insert_nodes(
        self,
        nodes: Sequence[BaseNode],
        train_dataset: Any = None,
        val_dataset: Any = None,
        *,
        refit: bool = True,
    ) -> None:
        """Add nodes (and QA pairs about them), then re-fit from the base vectors.

        All or nothing: everything is checked before the engine changes, and a refit that
        raises restores the corpus, QA data and fit as they were before the call.
        """
        self._whole_corpus("insert_nodes()")
        if isinstance(nodes, BaseNode | str | bytes) or not isinstance(nodes, Iterable):
            raise NudgeError(
                f"nodes must be a list of LlamaIndex nodes, not {type(nodes).__name__}: wrap a "
                "single node as [node]"
            )
        given = list(nodes)
        if not given:
            raise NudgeError("no nodes to insert: pass at least one node")
        new = resolve_corpus(given)  # checks node types and duplicate ids within the batch
        clash = [nid for nid in new.ids if nid in self._corpus.nodes]
        if clash:
            raise DuplicateIdError(
                f"node id {clash[0]!r} is already in the corpus: delete it first or use a new id"
            )
        dims = {v.shape[-1] for v in self._base.values()}
        for nid, vec in new.stored.items():
            if dims and vec.shape[-1] not in dims:
                raise ShapeError(
                    f"node {nid!r} carries a {vec.shape[-1]}-dimensional embedding but the "
                    f"corpus vectors have dimension {min(dims)}: embed it with this engine's "
                    "embed model, or clear node.embedding so the engine embeds it"
                )
        train, val = self._train, self._val
        for name, data in (("train_dataset", train_dataset), ("val_dataset", val_dataset)):
            if data is None:
                continue
            extra = QADataset.from_any(data)
            if not len(extra):
                raise EmptyTrainingSetError(
                    f"{name} holds no queries: pass QA pairs about the new nodes, or None to "
                    "add none"
                )
            if name == "train_dataset":
                train = train.merged(extra)
            else:
                val = extra if val is None else val.merged(extra)
        corpus_nodes = {**self._corpus.nodes, **new.nodes}
        check_relevant(corpus_nodes, train, val)
        self._change(corpus_nodes, {**self._base, **new.stored}, train, val, refit)

    @checked
    def delete_nodes(self, node_ids: Iterable[str], *, refit: bool = True) -> None:
        """Remove nodes and every judgement naming them, then re-fit from the base vectors.

        All or nothing: an unknown id deletes nothing, and a refit that raises restores the
        corpus, QA data and fit as they were before the call.
        """
        self._whole_corpus("delete_nodes()")
        if isinstance(node_ids, str | bytes) or not isinstance(node_ids, Iterable):
            raise NudgeError(
                f"node_ids must be a list of ids, not {type(node_ids).__name__}: wrap a single "
                "id as [node_id]"
            )
        ids = list(dict.fromkeys(node_ids))
        unknown = [nid for nid in ids if nid not in self._corpus.nodes]
        if unknown:
            raise UnknownIdError(
                f"node {unknown[0]!r} is not in the corpus, so nothing was deleted: check the "
                "ids against engine.node_ids"
            )
        gone = set(ids)
        corpus_nodes = {nid: n for nid, n in self._corpus.nodes.items() if nid not in gone}
        if not corpus_nodes:
            raise NudgeError(
                "deleting these nodes would leave the corpus empty, so nothing was deleted: "
                "keep at least one node, or build a new engine"
            )
        train = self._train.without_docs(gone)
        val = None if self._val is None else self._val.without_docs(gone)
        if refit and not len(train):
            raise EmptyTrainingSetError(
                "deleting these nodes drops every training query (each judged only deleted "
                "nodes relevant), so nothing was deleted: add training queries about the "
                "remaining nodes first, or pass refit=False"
            )
        base = {nid: v for nid, v in self._base.items() if nid not in gone}
        self._change(corpus_nodes, base, train, val, refit)

    def _change(
        self,
        nodes: dict[str, BaseNode],
        base: dict[str, NDArray[np.float32]],
        train: QADataset,
        val: QADataset | None,
        refit: bool,
    ) -> None:
        """Take the new corpus and QA data, refit; a refit that raises restores all."""
        before = (self._corpus, self._base, self._train, self._val, self.result_)
        self._corpus = replace(self._corpus, nodes=nodes)
        self._base, self._train, self._val = base, train, val
        if refit:
            try:
                self.finetune()
            except BaseException:
                self._corpus, self._base, self._train, self._val, self.result_ = before
                raise

    # ---------------------------------------------------------------- persistence
    @checked
    def save(self, persist_dir: str | Path) -> None:
        """Write nodes, base and nudged vectors, QA data, gamma and settings."""
        self._whole_corpus("save()")
        persist.save_engine(
            persist_dir,
            nodes=[self._corpus.nodes[nid] for nid in self._corpus.ids],
            base=self.base_embeddings_matrix(),
            train=self._train,
            val=self._val,
            state={
                "variant": self.variant,
                "fit_params": self.fit_params,
                "relevant_chunks": self.relevant_chunks,
                "node_ids": self._corpus.ids,
            },
            result=self.result_,
            embed_model=self.embed_model,
        )

    #: LlamaIndex's name for :meth:`save`.
    persist = alias(save, "persist")

    @classmethod
    @checked
    def load(
        cls,
        persist_dir: str | Path,
        embed_model: BaseEmbedding | None = None,
        *,
        check_model: bool = True,
    ) -> NudgeFinetuneEngine:
        """Load what :meth:`save` wrote; pass the same embed model.

        The vectors only fit the model they were made with: another model's name is
        refused unless ``check_model=False``. Without ``embed_model``,
        ``Settings.embed_model`` is used.
        """
        saved = persist.load_engine(persist_dir, embed_model, check_model=check_model)
        engine = cls(
            saved.train,
            saved.embed_model,
            corpus=saved.nodes,
            val_dataset=saved.val,
            variant=saved.state["variant"],
            relevant_chunks=saved.state.get("relevant_chunks", DEFAULT_RULE),
            **saved.state["fit_params"],
        )
        engine.result_ = saved.result
        return engine

    #: LlamaIndex's name for :meth:`load`.
    from_persist_dir = classmethod(alias(load.__func__, "from_persist_dir"))  # type: ignore[attr-defined]


def _dataset(obj: Any, name: str) -> QADataset:
    """A QA dataset argument read and checked, errors naming the argument."""
    try:
        ds = QADataset.from_any(obj)
    except NudgeError as exc:
        raise type(exc)(f"{name}: {exc}") from exc
    if not len(ds):
        raise EmptyTrainingSetError(
            f"{name} has no queries: give questions with their relevant node ids"
            + (" (or val_dataset=None to hold out part of train_dataset)" if "val" in name else "")
        )
    return ds
