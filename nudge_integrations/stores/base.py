"""Writing vectors into vector stores in place: the protocol and the all-or-nothing swap.

Framework-free: writers wrap a store's native client (a FAISS index, a Chroma collection,
a Milvus or Qdrant client, a dict of vectors), so the LlamaIndex and LangChain adapters
share them. A swap validates first (ids present, dimension), writes in batches, and on
any failure writes back what it had changed, so the store never stays half-nudged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.errors import MetricMismatchError, ShapeError, UnknownIdError

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


def require_inner_product(similarity: str | None, store_name: str) -> None:
    """Refuse to serve NUDGE-M vectors from a store that does not rank by inner product."""
    if similarity != "dot":
        raise MetricMismatchError(
            f"NUDGE-M vectors are not unit-norm and must be ranked by inner product, but "
            f"{store_name} ranks by {similarity or 'an unknown metric'}, which would silently "
            "mis-rank them. Use an exact inner-product retriever (as_retriever()), a store "
            "configured for inner product (FAISS IndexFlatIP / MAX_INNER_PRODUCT, Milvus "
            "metric 'IP', Chroma hnsw:space 'ip', Qdrant Distance.DOT), or NUDGE-N, whose "
            "vectors are unit-norm"
        )


def swap_vectors(
    writer: StoreWriter, new: Mapping[str, NDArray[np.float32]], *, dim: int, batch: int = 0
) -> None:
    """Write ``new`` (id -> vector) into the store, all or nothing."""
    ids = list(new)
    current = writer.read(ids)
    missing = [i for i in ids if i not in current]
    if missing:
        raise UnknownIdError(
            f"id {missing[0]!r} is not in the vector store ({len(missing)} missing): the "
            "store must hold the records the fit was made on"
        )
    for i in ids[:1]:
        if current[i].shape != (dim,):
            raise ShapeError(
                f"the store holds {current[i].size}-d vectors but NUDGE produced {dim}-d "
                "ones: the store was built with another embedding model"
            )
    step = batch or BATCH
    done: list[str] = []
    try:
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            writer.write({i: new[i] for i in chunk})
            done.extend(chunk)
    except Exception:
        if done:
            writer.write({i: current[i] for i in done})
        raise
