"""Writing vectors into vector stores in place: the writer protocol and the metric check.

Framework-free: writers wrap a store's native client (a FAISS index, a Chroma collection,
a Milvus or Qdrant client, a dict of vectors), so the LlamaIndex and LangChain adapters
share them. Every swap goes through the nudge ledger (``lifecycle``), which validates,
writes in batches and rolls back on failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.errors import MetricMismatchError

#: Vectors written per call to the store.
BATCH = 512

#: Metadata key of the marker on nudged records: the path of their nudge ledger.
MARKER = "nudge_ledger"


class StoreWriter(Protocol):
    """Read and overwrite vectors by id in one vector store, leaving text and metadata."""

    #: ``"dot"``, ``"cosine"``, ``"l2"``, or None when the store's metric is unknown.
    similarity: str | None

    def all_ids(self) -> list[str]:
        """Every id in the store."""
        ...

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Current vectors of the ids the store holds (absent ids are left out)."""
        ...

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        """Overwrite the vectors of existing ids."""
        ...


def require_inner_product(
    similarity: str | None, store_name: str, advice: str | None = None
) -> None:
    """Refuse to serve NUDGE-M vectors from a store that does not rank by inner product;
    ``advice`` replaces the default what-to-do-instead (e.g. for a store-native fit, which
    no in-memory retriever can serve)."""
    if similarity != "dot":
        raise MetricMismatchError(
            f"NUDGE-M vectors are not unit-norm and must be ranked by inner product, but "
            f"{store_name} ranks by {similarity or 'an unknown metric'}, which would silently "
            "mis-rank them. "
            + (
                advice
                or "Use an exact inner-product retriever (as_retriever()), a store "
                "configured for inner product (FAISS IndexFlatIP / MAX_INNER_PRODUCT, Milvus "
                "metric 'IP', Chroma hnsw:space 'ip', Qdrant Distance.DOT), or NUDGE-N, whose "
                "vectors are unit-norm"
            )
        )
