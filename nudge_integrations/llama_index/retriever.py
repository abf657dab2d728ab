"""A LlamaIndex retriever that ranks nudged vectors exactly, by inner product by default.

NUDGE-M vectors are not unit-norm, so a cosine store (LlamaIndex's default) would
re-normalise and mis-rank them; this retriever scores ``query . vector`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from numpy.typing import NDArray

from nudge_integrations.core.validation import as_matrix
from nudge_integrations.errors import NudgeError, ShapeError
from nudge_integrations.search import check_similarity, exact_search


class NudgeRetriever(BaseRetriever):
    """Exact top-k over an id-aligned matrix of (nudged) vectors."""

    def __init__(
        self,
        nodes: Sequence[BaseNode],
        vectors: Any,
        embed_model: BaseEmbedding,
        *,
        similarity_top_k: int = 10,
        similarity: str = "dot",
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
        super().__init__(callback_manager=callback_manager, verbose=verbose)

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
        k = min(self.similarity_top_k, len(self._nodes))
        scores, rows = exact_search(
            vec[None, :], self._vectors, k, similarity=self._similarity, device="cpu"
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
