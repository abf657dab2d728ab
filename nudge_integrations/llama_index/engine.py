"""NUDGE for LlamaIndex: a finetune engine over your nodes, docstore or index.

The engine embeds (or reuses) the corpus vectors and the QA queries with your
``BaseEmbedding``, fits NUDGE on the framework-free core, and hands back the nudged
vectors by node id, a ``VectorStoreIndex`` or retriever over them, or the user's vector
store updated in place. The embed model is unchanged: it stays the query model.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from llama_index.core import Settings, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
from numpy.typing import NDArray

from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.errors import (
    DuplicateIdError,
    EmptyTrainingSetError,
    NotFittedError,
    NudgeError,
    ShapeError,
    UnknownIdError,
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
from nudge_integrations.llama_index import ledger as li_ledger
from nudge_integrations.llama_index.corpus import (
    Corpus,
    CorpusLike,
    resolve_corpus,
)
from nudge_integrations.llama_index.embeddings import EmbeddingCache
from nudge_integrations.llama_index.retriever import NudgeRetriever
from nudge_integrations.model_identity import model_identity, model_name
from nudge_integrations.stores import lifecycle, registry
from nudge_integrations.stores.base import require_inner_product
from nudge_integrations.stores.ledger import text_hash
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport, base_from_ledger
from nudge_integrations.stores.location import LedgerLike, find_ledger
from nudge_integrations.stores.native_fit import native_inputs

Variant = Literal["N", "M"]
_STATE = "nudge_engine.json"


class NudgeFinetuneEngine:
    """Fine-tune a corpus's embeddings with NUDGE, in the shape of LlamaIndex's finetune engines.

    ``finetune()`` fits; ``get_finetuned_model()`` returns the (unchanged) query model;
    ``get_finetuned_corpus_embeddings()`` the nudged vectors by node id; ``as_index()``,
    ``as_retriever()`` and ``nudged_nodes()`` put them to use. Every fit starts from the
    base vectors, so growing, shrinking and re-fitting never compounds nudges.

    With a ``val_dataset``, the final nudge uses the training and validation queries at
    the gamma chosen on validation (``refit_with_validation=True``, measured better on
    SciFact: docs/paper-comparison.md); pass ``refit_with_validation=False`` for the
    reference's behaviour (training queries only).

    ``native=True`` fits against the store behind ``corpus`` (a VectorStoreIndex) where
    it lies. On an approximate index (Chroma's HNSW, Milvus' non-FLAT indexes) the fit
    measures the store's recall on ``recall_sample`` validation queries against an exact
    scan streamed from the store (0: skip); it is in ``index_recall_`` and the notes.
    """

    def __init__(
        self,
        train_dataset: Any,
        embed_model: BaseEmbedding | None = None,
        *,
        corpus: CorpusLike = None,
        val_dataset: Any = None,
        variant: Variant = "N",
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
        if variant not in ("N", "M"):
            raise NudgeError(f"variant must be 'N' or 'M', got {variant!r}")
        self.relevant_chunks: ChunkRule = check_rule(relevant_chunks)
        self.fit_params: dict[str, Any] = check_fit_params(
            {
                "gamma": gamma,
                "metric": metric,
                "k": k,
                "device": device,
                "refit_with_validation": True,  # measured better; False: the reference
                **fit_params,
            },
            variant,
            "NudgeFinetuneEngine",
            _OWN_ARGS,
        )
        self._train = _dataset(train_dataset, "train_dataset")
        self._val = None if val_dataset is None else _dataset(val_dataset, "val_dataset")
        self.embed_model: BaseEmbedding = embed_model or Settings.embed_model
        self.variant: Variant = variant
        self.native_ = bool(native)
        self.recall_sample = int(recall_sample)
        #: Recall@k of the store's search measured by a store-native fit on an
        #: approximate index (None otherwise).
        self.index_recall_: float | None = None
        self.ledger_: Path | None = None
        self._source: tuple[Any, dict[str, NDArray[np.float32]]] | None = None
        if native:
            self._corpus: Corpus = self._native_corpus(corpus, ledger)
        else:
            self._corpus = resolve_corpus(corpus, self._train, self._val)
        self._cache = EmbeddingCache(self.embed_model, show_progress=show_progress)
        self._base: dict[str, NDArray[np.float32]] = dict(self._corpus.stored)
        for note in self._corpus.notes:  # e.g. a store that could not return its vectors
            warnings.warn(note, stacklevel=2)
        if isinstance(corpus, VectorStoreIndex) and not native:
            self._base_from_ledger(corpus, ledger)
        self._check_judgements()
        if self._val is None and gamma is None and len(self._train) < 2:
            raise EmptyTrainingSetError(
                "need at least 2 training queries to hold some out for choosing gamma: add "
                "queries, pass val_dataset=..., or fix gamma="
            )
        self.result_: NudgeResult | None = None

    @classmethod
    def from_defaults(
        cls,
        train_dataset: Any = None,
        embed_model: BaseEmbedding | None = None,
        *,
        corpus: CorpusLike = None,
        nodes: Sequence[BaseNode] | None = None,
        docstore: BaseDocumentStore | None = None,
        index: VectorStoreIndex | None = None,
        val_dataset: Any = None,
        variant: Variant = "N",
        gamma: float | None = None,
        metric: str = "hit",
        k: int = 1,
        device: str = "auto",
        show_progress: bool = False,
        ledger: LedgerLike = None,
        **fit_params: Any,
    ) -> NudgeFinetuneEngine:
        """Build an engine, LlamaIndex style: ``from_defaults(train_dataset=qa, index=index)``.

        The corpus comes from at most one of ``corpus``, ``nodes``, ``docstore`` or ``index``
        (none: the QA dataset's own corpus); ``embed_model`` defaults to
        ``Settings.embed_model``. Nothing is fitted until :meth:`finetune`.
        """
        if train_dataset is None:
            raise EmptyTrainingSetError(
                "from_defaults needs train_dataset: pass the QA pairs to fit on "
                "(an EmbeddingQAFinetuneDataset, a QADataset or its dict)"
            )
        given = {
            name: src
            for name, src in (
                ("corpus", corpus),
                ("nodes", nodes),
                ("docstore", docstore),
                ("index", index),
            )
            if src is not None
        }
        if len(given) > 1:
            raise NudgeError(
                f"got {', '.join(given)} as the corpus: pass only one of corpus, nodes, "
                "docstore or index"
            )
        return cls(
            train_dataset,
            embed_model,
            corpus=next(iter(given.values()), None),
            val_dataset=val_dataset,
            variant=variant,
            gamma=gamma,
            metric=metric,
            k=k,
            device=device,
            show_progress=show_progress,
            ledger=ledger,
            **fit_params,
        )

    def _base_from_ledger(self, index: VectorStoreIndex, ledger: LedgerLike) -> None:
        """Take the base vectors of nudged nodes from the index's ledger, never the store."""
        try:
            writer = li_ledger.writer_of(index)
        except NudgeError:
            return  # a store that cannot be updated in place was never nudged by us
        found = find_ledger(writer, ledger, self._corpus.ids, key=li_ledger.index_key(index))
        if found is None or not found.exists:
            return
        self.ledger_ = found.path
        texts = {nid: self._corpus.text(nid) for nid in self._corpus.ids if nid in found}
        restored = base_from_ledger(found, self._base, texts)
        for nid in restored:  # the nodes carry the base vectors they stand for
            node = self._corpus.nodes[nid]
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
        bound = li_ledger.bound_of(index)
        writer = bound.writer
        if not is_record_source(writer):
            raise NudgeError(
                f"{bound.label} has no store-native search in nudge-integrations yet: "
                "fit without native=True"
            )
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
        got = native_inputs(
            li_ledger.text_reader(index),
            writer,
            named,
            ledger,
            key=li_ledger.index_key(index),
            what="node",
            label=bound.label,
        )
        self.ledger_ = got.ledger
        self._source = (writer, got.known)
        return Corpus({i: nodes[i] for i in named}, stored=got.vectors, notes=[])

    def _whole_corpus(self, what: str) -> None:
        """Refuse what needs every node after a store-native fit, which read only some."""
        if self.native_:
            raise NudgeError(
                f"{what} needs every node, but this engine was fitted store-native and read "
                "only the nodes its questions name: apply_to_index(index) and serve from the "
                "index (NUDGE-M only from a store that ranks by inner product), or build the "
                "engine without native=True"
            )

    # ---------------------------------------------------------------- fitting
    def finetune(self) -> None:
        """Fit NUDGE from the base vectors of the current corpus and QA data."""
        ids = self._corpus.ids
        base = self.base_embeddings_matrix()
        train_q = self._cache.embed_queries([self._train.queries[q] for q in self._train.query_ids])
        val_args: tuple[Any, Any] = (None, None)
        if self._val is not None and len(self._val):
            val_q = self._cache.embed_queries([self._val.queries[q] for q in self._val.query_ids])
            val_args = (val_q, self._judgements(self._val, val_q))
        estimator = self._estimator()
        judged = self._judgements(self._train, train_q)
        if self._source is not None:
            writer, known = self._source
            fit_by_id(
                estimator,
                writer,
                train_q,
                judged,
                *val_args,
                base=known,
                recall_sample=self.recall_sample,
            )
        else:
            estimator.fit(base, train_q, judged, *val_args, ids=ids)
        self.result_ = estimator.result_
        self.index_recall_ = getattr(estimator, "index_recall_", None)

    def _judgements(self, ds: QADataset, queries: NDArray[np.float32]) -> list[dict[str, float]]:
        """Per-query relevance over nodes: document ids become their chunks' node ids by
        ``relevant_chunks`` (every chunk, or the one the question scores highest)."""
        judged = ds.judgements()
        if not needs_chunks(judged, self._corpus.nodes):
            return judged
        return to_chunks(
            judged,
            chunks_by_document(self._corpus.nodes),
            self._corpus.nodes,
            rule=self.relevant_chunks,
            queries=queries,
            vectors=self._base,
            names=ds.query_ids,
        )

    def _estimator(self) -> NudgeN | NudgeM:
        params = {k: v for k, v in self.fit_params.items() if v is not None or k == "gamma"}
        return NudgeN(**params) if self.variant == "N" else NudgeM(**params)

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
            for nid, vec in zip(missing, vectors, strict=True):
                self._base[nid] = vec
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
        matrix = self.base_embeddings_matrix()
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
        matrix = self.finetuned_matrix()
        out = []
        for i, nid in enumerate(self._corpus.ids):
            node = self._corpus.nodes[nid].model_copy()
            node.embedding = matrix[i].tolist()
            out.append(node)
        return out

    def as_index(
        self, storage_context: StorageContext | None = None, **index_kwargs: Any
    ) -> VectorStoreIndex:
        """A ``VectorStoreIndex`` over the nodes with the nudged vectors.

        NUDGE-M needs an inner-product store: the default (cosine) store is refused with a
        pointer to ``as_retriever()`` or an inner-product store.
        """
        self._whole_corpus("as_index()")
        result = self._result()
        if result.variant == "M":
            store = storage_context.vector_store if storage_context is not None else None
            if store is None:  # LlamaIndex's default SimpleVectorStore ranks by cosine
                require_inner_product("cosine", "the default SimpleVectorStore")
            else:
                try:
                    similarity = registry.bind(store, "llama_index").writer.similarity
                except NudgeError:  # a store the registry does not know: metric unknown
                    similarity = None
                require_inner_product(similarity, type(store).__name__)
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
        matrix = self.finetuned_matrix()
        return NudgeRetriever(
            self.nodes,
            matrix,
            self.embed_model,
            similarity_top_k=similarity_top_k,
            filters=filters,
            doc_ids=doc_ids,
            node_ids=node_ids,
            **kwargs,
        )

    # ---------------------------------------------------------------- stores in place
    def apply_to_index(
        self, index: VectorStoreIndex | Any, *, ledger: LedgerLike = None
    ) -> SwapReport:
        """Overwrite the moved nodes' vectors in the user's index (or vector store).

        Text and metadata stay; only vectors of moved nodes change. The base vectors go
        into the store's nudge ledger first (beside the store, or keyed by the index id),
        so :meth:`revert_index` works from any process. All or nothing: on a failure the
        store is restored. Nodes whose text changed since the fit are skipped and
        reported. Iterating the report gives the ids written.
        """
        result = self._result()
        bound = li_ledger.bound_of(index)
        writer = bound.writer
        if result.variant == "M":  # as_retriever() cannot serve a store-native fit
            advice = _NATIVE_M_ADVICE if self.native_ else None
            require_inner_product(writer.similarity, bound.label, advice)
        moved = {str(k): v for k, v in result.as_dict().items()}
        found = li_ledger.ledger_to_write(index, writer, list(moved), ledger or self.ledger_)
        base = self.base_embeddings_matrix()
        row = {nid: n for n, nid in enumerate(self._corpus.ids)}
        report = lifecycle.swap(
            writer,
            found,
            moved,
            {nid: base[row[nid]] for nid in moved},
            {nid: text_hash(self._corpus.text(nid)) for nid in moved},
            variant=result.variant,
            gamma=result.gamma,
            model=model_name(self.embed_model),
            dim=result.dim,
            texts=li_ledger.text_reader(index),
            batch=li_ledger._BATCH,
        )
        self.ledger_ = found.path
        lifecycle.warn_skipped(report, "nodes")
        return report

    def revert_index(
        self,
        index: VectorStoreIndex | Any,
        node_ids: Iterable[str] | None = None,
        *,
        ledger: LedgerLike = None,
    ) -> SwapReport:
        """Write the base vectors back from the store's nudge ledger (of ``node_ids``, else
        of every node ever nudged there). Nodes no longer in the store, or whose text
        changed, are skipped and reported; the rest are restored bit for bit."""
        ids = None if node_ids is None else list(node_ids)
        report = li_ledger.revert(index, ids, ledger=ledger or self.ledger_)
        return report

    def index_status(
        self, index: VectorStoreIndex | Any, *, ledger: LedgerLike = None
    ) -> LedgerStatus:
        """Whether the index's store holds base vectors, nudged vectors, or is half-swapped."""
        return li_ledger.status(index, ledger=ledger or self.ledger_)

    # ---------------------------------------------------------------- growing
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
                train = merge_datasets(train, extra)
            else:
                val = extra if val is None else merge_datasets(val, extra)
        corpus_nodes = {**self._corpus.nodes, **new.nodes}
        _check_relevant(corpus_nodes, train, val)
        before = (self._corpus, self._base, self._train, self._val, self.result_)
        self._corpus = replace(self._corpus, nodes=corpus_nodes)
        self._base = {**self._base, **new.stored}
        self._train, self._val = train, val
        if refit:
            try:
                self.finetune()
            except BaseException:
                self._corpus, self._base, self._train, self._val, self.result_ = before
                raise

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
        train = drop_docs(self._train, gone)
        val = None if self._val is None else drop_docs(self._val, gone)
        if refit and not len(train):
            raise EmptyTrainingSetError(
                "deleting these nodes drops every training query (each judged only deleted "
                "nodes relevant), so nothing was deleted: add training queries about the "
                "remaining nodes first, or pass refit=False"
            )
        before = (self._corpus, self._base, self._train, self._val, self.result_)
        self._corpus = replace(self._corpus, nodes=corpus_nodes)
        self._base = {nid: v for nid, v in self._base.items() if nid not in gone}
        self._train, self._val = train, val
        if refit:
            try:
                self.finetune()
            except BaseException:
                self._corpus, self._base, self._train, self._val, self.result_ = before
                raise

    def _check_judgements(self) -> None:
        _check_relevant(self._corpus.nodes, self._train, self._val)

    # ---------------------------------------------------------------- persistence
    def persist(self, persist_dir: str | Path) -> None:
        """Write nodes, base and nudged vectors, QA data, gamma and settings."""
        self._whole_corpus("persist()")
        root = Path(persist_dir)
        root.mkdir(parents=True, exist_ok=True)
        docstore = SimpleDocumentStore()
        docstore.add_documents([self._corpus.nodes[nid] for nid in self._corpus.ids])
        docstore.persist(str(root / "docstore.json"))
        np.save(root / "base.npy", self.base_embeddings_matrix())
        self._train.save_json(root / "train.json")
        if self._val is not None:
            self._val.save_json(root / "val.json")
        state: dict[str, Any] = {
            "variant": self.variant,
            "fit_params": self.fit_params,
            "relevant_chunks": self.relevant_chunks,
            "node_ids": self._corpus.ids,
            "embed_model": model_identity(self.embed_model),  # its name only, never the model
            "result": None,
        }
        if self.result_ is not None:
            r = self.result_
            np.save(root / "nudged.npy", r.vectors)
            state["result"] = r.to_state()
        (root / _STATE).write_text(json.dumps(state, indent=2))

    @classmethod
    def from_persist_dir(
        cls,
        persist_dir: str | Path,
        embed_model: BaseEmbedding | None = None,
        *,
        check_model: bool = True,
    ) -> NudgeFinetuneEngine:
        """Load what :meth:`persist` wrote; pass the same embed model.

        The vectors only fit the model they were made with: another model's name is
        refused unless ``check_model=False``. Without ``embed_model``,
        ``Settings.embed_model`` is used.
        """
        root = Path(persist_dir)
        for name in (_STATE, "docstore.json", "base.npy", "train.json"):
            if not (root / name).is_file():
                raise NudgeError(
                    f"{root} holds no persisted NUDGE engine ({name} is missing): pass the "
                    "folder given to persist(), or persist again"
                )
        try:
            state = json.loads((root / _STATE).read_text())
        except json.JSONDecodeError as exc:
            raise NudgeError(f"{root / _STATE} is not valid JSON ({exc}): persist again") from exc
        recorded: dict[str, str] | None = state.get("embed_model")  # None in older folders
        made_with = (
            f"{recorded['name']!r} ({recorded['class']})"
            if recorded
            else "the embed model it was fitted with"
        )
        if embed_model is None:
            try:
                embed_model = Settings.embed_model
            except (ImportError, ValueError) as exc:
                raise NudgeError(
                    f"the engine in {root} was fitted with embed model {made_with}, and no "
                    f"embed_model was given; LlamaIndex's default could not be built ({exc}): "
                    "pass embed_model=<that model>"
                ) from exc
        if check_model and recorded:
            given = model_identity(embed_model)
            if given["name"] != recorded["name"]:
                raise NudgeError(
                    f"the engine in {root} was fitted with embed model {made_with}, but "
                    f"{given['name']!r} ({given['class']}) was given: pass that model (queries "
                    "must be embedded like the nodes), or check_model=False if it is the same "
                    "model under another name"
                )
        docstore = SimpleDocumentStore.from_persist_path(str(root / "docstore.json"))
        nodes = [docstore.get_node(nid) for nid in state["node_ids"]]
        base = np.load(root / "base.npy")
        for node, vec in zip(nodes, base, strict=True):
            node.embedding = vec.tolist()
        val_path = root / "val.json"
        engine = cls(
            QADataset.from_json(root / "train.json"),
            embed_model,
            corpus=nodes,
            val_dataset=QADataset.from_json(val_path) if val_path.is_file() else None,
            variant=state["variant"],
            relevant_chunks=state.get("relevant_chunks", DEFAULT_RULE),
            **state["fit_params"],
        )
        saved = state["result"]
        if saved is not None:
            engine.result_ = NudgeResult.from_state(
                saved,
                np.load(root / "nudged.npy"),
                variant=state["variant"],
                n_records=base.shape[0],
                dim=base.shape[1],
            )
        return engine


#: What to do instead when a store refuses a store-native NUDGE-M fit.
_NATIVE_M_ADVICE = (
    "This engine was fitted store-native: build it with variant='N' (unit-norm vectors, "
    "right for this store), or apply it to an index whose store ranks by inner product "
    "(FAISS IndexFlatIP, Milvus metric 'IP', Chroma hnsw:space 'ip', Qdrant Distance.DOT), "
    "or build it without native=True and serve with engine.as_retriever()"
)

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


def merge_datasets(a: QADataset, b: QADataset) -> QADataset:
    """Union of two QA datasets; a query id reused with other text is an error."""
    for qid, text in b.queries.items():
        if qid in a.queries and a.queries[qid] != text:
            raise DuplicateIdError(
                f"query id {qid!r} already exists with different text: give it a new id"
            )
    return QADataset(
        queries={**a.queries, **b.queries},
        corpus={**a.corpus, **b.corpus},
        relevant_docs={**a.relevant_docs, **b.relevant_docs},
        relevance_scores={**a.relevance_scores, **b.relevance_scores},
    )


def _check_relevant(nodes: Mapping[str, BaseNode], train: QADataset, val: QADataset | None) -> None:
    """Every judged-relevant id must be a corpus node or the document (``ref_doc_id``) of
    some nodes, else the fit would be meaningless."""
    parents = chunks_by_document(nodes)
    for name, ds in (("training", train), ("validation", val)):
        if ds is None:
            continue
        for qid in ds.query_ids:
            for doc in ds.relevant_docs[qid]:
                if doc not in nodes and doc not in parents:
                    raise UnknownIdError(
                        f"{name} query {qid!r} marks {doc!r} relevant, but no node has that "
                        "id and no node comes from a document with that id (ref_doc_id): add "
                        "it to the corpus or fix the QA data"
                    )


def chunks_by_document(nodes: Mapping[str, BaseNode]) -> dict[str, list[str]]:
    """Node ids by the id of the document they were split from (``ref_doc_id``)."""
    out: dict[str, list[str]] = {}
    for nid, node in nodes.items():
        parent = node.ref_doc_id
        if parent is not None and parent != nid:
            out.setdefault(parent, []).append(nid)
    return out


def drop_docs(ds: QADataset, gone: set[str]) -> QADataset:
    """Remove docs from the judgements; queries left with none are dropped."""
    relevant = {q: [d for d in docs if d not in gone] for q, docs in ds.relevant_docs.items()}
    keep = [q for q in ds.query_ids if relevant[q]]
    return QADataset(
        queries={q: ds.queries[q] for q in keep},
        corpus={d: t for d, t in ds.corpus.items() if d not in gone},
        relevant_docs={q: relevant[q] for q in keep},
        relevance_scores={
            q: {d: g for d, g in ds.relevance_scores[q].items() if d not in gone}
            for q in keep
            if q in ds.relevance_scores
        },
    )
