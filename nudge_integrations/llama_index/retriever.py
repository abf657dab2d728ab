"""A LlamaIndex retriever that ranks nudged vectors exactly, by inner product by default.

NUDGE-M vectors are not unit-norm, so a cosine store (LlamaIndex's default) would
re-normalise and mis-rank them; this retriever scores ``query . vector`` itself.
Like ``VectorStoreIndex.as_retriever`` it takes ``filters`` (``MetadataFilters``),
``doc_ids`` and ``node_ids``, applied before the top-k.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from numpy.typing import NDArray

from nudge_integrations.core.arguments import checked
from nudge_integrations.core.errors import NudgeError, ShapeError, UnknownIdError
from nudge_integrations.core.search import check_similarity, exact_search
from nudge_integrations.core.validation import as_matrix


class NudgeRetriever(BaseRetriever):
    """Exact top-k over an id-aligned matrix of (nudged) vectors.

    ``filters`` (LlamaIndex ``MetadataFilters``, nested and AND/OR/NOT), ``doc_ids`` (keep
    nodes whose ``ref_doc_id`` is listed) and ``node_ids`` (keep these nodes) narrow the
    candidates before the top-k, so ``similarity_top_k`` results come back when that many
    match. A node id not in ``nodes`` is refused; an unknown doc id just matches nothing.
    """

    @checked
    def __init__(
        self,
        nodes: Sequence[BaseNode],
        vectors: Any,
        embed_model: BaseEmbedding,
        *,
        similarity_top_k: int = 10,
        similarity: str = "dot",
        filters: MetadataFilters | MetadataFilter | None = None,
        doc_ids: Iterable[str] | None = None,
        node_ids: Iterable[str] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        matrix = as_matrix(vectors, "vectors", min_rows=1)
        if matrix.shape[0] != len(nodes):
            raise ShapeError(f"got {matrix.shape[0]} vectors for {len(nodes)} nodes")
        if similarity_top_k < 1:
            raise NudgeError(f"similarity_top_k must be >= 1, got {similarity_top_k}")
        self._nodes = list(nodes)
        self._vectors: NDArray[np.float32] = matrix
        self._embed_model = embed_model
        self._similarity = check_similarity(similarity)
        self.similarity_top_k = similarity_top_k
        self._filters = _as_filters(filters)
        self._doc_ids = _id_list(doc_ids, "doc_ids")
        self._node_ids = _id_list(node_ids, "node_ids")
        self._exclude = self._excluded_rows()
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def nodes(self) -> list[BaseNode]:
        """The nodes ranked, one per row of :attr:`vectors` (fixed at construction)."""
        return self._nodes

    @property
    def vectors(self) -> NDArray[np.float32]:
        """The (nudged) vectors ranked, one row per node (fixed at construction)."""
        return self._vectors

    @property
    def embed_model(self) -> BaseEmbedding:
        """The model queries are embedded with."""
        return self._embed_model

    @property
    def similarity(self) -> str:
        """How a query is scored against a row: ``"dot"`` or ``"cosine"``."""
        return self._similarity

    @property
    def filters(self) -> MetadataFilters | None:
        """The metadata filters (fixed at construction)."""
        return self._filters

    @property
    def doc_ids(self) -> list[str] | None:
        """The ref doc ids results are restricted to (fixed at construction)."""
        return self._doc_ids

    @property
    def node_ids(self) -> list[str] | None:
        """The node ids results are restricted to (fixed at construction)."""
        return self._node_ids

    def _excluded_rows(self) -> NDArray[np.bool_] | None:
        """Mask of the rows the filters, doc ids and node ids rule out (None: keep all)."""
        nodes = self._nodes
        keep = np.ones(len(nodes), dtype=bool)
        if self._node_ids is not None:
            known = {node.node_id for node in nodes}
            unknown = [nid for nid in self._node_ids if nid not in known]
            if unknown:
                raise UnknownIdError(
                    f"node_ids names {unknown[0]!r}, which is not among the retriever's nodes: "
                    "pass ids from engine.node_ids"
                )
            wanted = set(self._node_ids)
            keep &= np.array([node.node_id in wanted for node in nodes], dtype=bool)
        if self._doc_ids is not None:
            docs = set(self._doc_ids)
            keep &= np.array([node.ref_doc_id in docs for node in nodes], dtype=bool)
        if self._filters is not None:
            filters = self._filters
            keep &= np.array([_matches(filters, node.metadata) for node in nodes], dtype=bool)
        return None if keep.all() else ~keep

    @classmethod
    def class_name(cls) -> str:
        return "NudgeRetriever"

    def _query_vector(self, query_bundle: QueryBundle) -> NDArray[np.float32]:
        if query_bundle.embedding is None:
            query_bundle.embedding = self._embed_model.get_agg_embedding_from_queries(
                query_bundle.embedding_strs
            )
        vec = np.asarray(query_bundle.embedding, dtype=np.float32)
        if vec.shape != (self._vectors.shape[1],):
            raise ShapeError(
                f"query embedding has dimension {vec.size}, the vectors {self._vectors.shape[1]}: "
                "use the embed model the corpus was embedded with"
            )
        return vec

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vec = self._query_vector(query_bundle)
        eligible = len(self._nodes) if self._exclude is None else int((~self._exclude).sum())
        k = min(self.similarity_top_k, eligible)
        if k == 0:
            return []
        scores, rows = exact_search(
            vec[None, :],
            self._vectors,
            k,
            similarity=self._similarity,
            device="cpu",
            exclude=self._exclude,
        )
        return [
            NodeWithScore(node=self._nodes[int(r)], score=float(s))
            for s, r in zip(scores[0], rows[0], strict=True)
            if r >= 0
        ]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if query_bundle.embedding is None:
            query_bundle.embedding = await self._embed_model.aget_agg_embedding_from_queries(
                query_bundle.embedding_strs
            )
        return self._retrieve(query_bundle)


# ------------------------------------------------------------------ metadata filters
def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """``op(metadata, value)``, False where the two cannot be compared (e.g. str vs int)."""

    def check(meta: Any, value: Any) -> bool:
        try:
            return bool(op(meta, value))
        except TypeError:
            return False

    return check


def _text(meta: Any, value: Any, fold: bool) -> bool:
    if not isinstance(meta, str):
        return False
    return value.lower() in meta.lower() if fold else value in meta


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


# metadata value (None when the key is absent) and filter value -> match
_OPERATORS: dict[FilterOperator, Callable[[Any, Any], bool]] = {
    FilterOperator.EQ: _compare(lambda m, v: m == v),
    FilterOperator.NE: _compare(lambda m, v: m != v),
    FilterOperator.GT: _compare(lambda m, v: m > v),
    FilterOperator.GTE: _compare(lambda m, v: m >= v),
    FilterOperator.LT: _compare(lambda m, v: m < v),
    FilterOperator.LTE: _compare(lambda m, v: m <= v),
    FilterOperator.IN: _compare(lambda m, v: m in v),
    FilterOperator.NIN: _compare(lambda m, v: m not in v),
    FilterOperator.CONTAINS: _compare(lambda m, v: v in m),
    FilterOperator.ANY: _compare(lambda m, v: any(x in m for x in v)),
    FilterOperator.ALL: _compare(lambda m, v: all(x in m for x in v)),
    FilterOperator.TEXT_MATCH: lambda m, v: _text(m, v, fold=False),
    FilterOperator.TEXT_MATCH_INSENSITIVE: lambda m, v: _text(m, v, fold=True),
}
_LIST_VALUED = {FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL}
_TRUE_WHEN_MISSING = {FilterOperator.NE, FilterOperator.NIN}


def _as_filters(filters: Any) -> MetadataFilters | None:
    """Check a filter tree up front, so a bad operator fails at construction."""
    if filters is None:
        return None
    if isinstance(filters, MetadataFilter):
        filters = MetadataFilters(filters=[filters])
    if not isinstance(filters, MetadataFilters):
        raise NudgeError(
            f"filters must be LlamaIndex MetadataFilters, not {type(filters).__name__}: wrap "
            "them as MetadataFilters(filters=[MetadataFilter(key=..., value=...)])"
        )
    _check(filters)
    return filters


def _check(filters: MetadataFilters) -> None:
    condition = filters.condition or FilterCondition.AND
    if condition not in (FilterCondition.AND, FilterCondition.OR, FilterCondition.NOT):
        raise NudgeError(
            f"filter condition {condition!r} is not supported: use 'and', 'or' or 'not'"
        )
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            _check(item)
            continue
        op = item.operator
        if op != FilterOperator.IS_EMPTY and op not in _OPERATORS:
            names = ", ".join(o.name for o in [*_OPERATORS, FilterOperator.IS_EMPTY])
            raise NudgeError(
                f"filter operator {op!r} (key {item.key!r}) is not supported by NudgeRetriever: "
                f"use one of {names}"
            )
        if op in _LIST_VALUED and not _is_list(item.value):
            raise NudgeError(
                f"filter {op.name} on {item.key!r} needs a list value, got {item.value!r}: "
                "pass value=[...]"
            )
        text_ops = (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE)
        if op in text_ops and not isinstance(item.value, str):
            raise NudgeError(
                f"filter {op.name} on {item.key!r} needs a string value, got {item.value!r}"
            )


def _matches(filters: MetadataFilters, metadata: Mapping[str, Any]) -> bool:
    """Whether a node's metadata passes the (possibly nested) filters."""
    hits = (
        _matches(item, metadata) if isinstance(item, MetadataFilters) else _hit(item, metadata)
        for item in filters.filters
    )
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.OR:
        return any(hits)
    if condition == FilterCondition.NOT:
        return not any(hits)
    return all(hits)


def _hit(item: MetadataFilter, metadata: Mapping[str, Any]) -> bool:
    meta = metadata.get(item.key)
    if item.operator == FilterOperator.IS_EMPTY:
        return meta is None or meta == "" or meta == []
    if meta is None:
        return item.operator in _TRUE_WHEN_MISSING
    return _OPERATORS[item.operator](meta, item.value)


def _id_list(ids: Iterable[str] | None, name: str) -> list[str] | None:
    if ids is None:
        return None
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise NudgeError(
            f"{name} must be a list of ids, not {type(ids).__name__}: wrap one id as [id]"
        )
    return [str(i) for i in ids]
