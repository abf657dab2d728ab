"""Write nudged vectors into a LlamaIndex vector store in place, and take them back out.

Each supported store gets a small writer that reads and overwrites the vectors of given
node ids, keeping text and metadata. A swap-in validates everything first (ids present,
dimension, metric), writes in batches, and on any failure writes back what it had
changed, so the store never stays half-nudged. Base vectors are kept by the caller, so
``revert`` can always restore them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.errors import MetricMismatchError, NudgeError, ShapeError, UnknownIdError

Vectors = Mapping[str, Any]
_BATCH = 512


class StoreWriter(Protocol):
    """Read and overwrite vectors by node id in one vector store."""

    similarity: str | None

    def all_ids(self) -> list[str]: ...

    def read(self, node_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]: ...

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None: ...


class SimpleWriter:
    """LlamaIndex's in-memory ``SimpleVectorStore`` (always cosine)."""

    similarity: str | None = "cosine"

    def __init__(self, store: Any) -> None:
        self.data = store.data

    def all_ids(self) -> list[str]:
        return list(self.data.embedding_dict)

    def read(self, node_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return {
            nid: np.asarray(self.data.embedding_dict[nid], dtype=np.float32)
            for nid in node_ids
            if nid in self.data.embedding_dict
        }

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        for nid, vec in vectors.items():
            self.data.embedding_dict[nid] = np.asarray(vec, dtype=np.float32).tolist()


class FaissWriter:
    """``FaissVectorStore`` over a flat FAISS index; rows are found via the index's id map."""

    def __init__(self, store: Any, position_of: Mapping[str, int]) -> None:
        import faiss

        index = store.client
        flat = faiss.downcast_index(index)
        if not isinstance(flat, faiss.IndexFlat):
            raise NudgeError(
                f"only flat FAISS indexes can be updated in place, this one is "
                f"{type(flat).__name__}: rebuild it from engine.nudged_nodes()"
            )
        self.index = flat
        self.position_of = position_of
        self.similarity = {faiss.METRIC_INNER_PRODUCT: "dot", faiss.METRIC_L2: "l2"}.get(
            flat.metric_type
        )

    def all_ids(self) -> list[str]:
        return list(self.position_of)

    def _rows(self) -> NDArray[np.float32]:
        import faiss

        data = faiss.rev_swig_ptr(self.index.get_xb(), self.index.ntotal * self.index.d)
        return np.asarray(data).reshape(self.index.ntotal, self.index.d)

    def read(self, node_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        rows = self._rows()
        return {
            nid: rows[self.position_of[nid]].copy() for nid in node_ids if nid in self.position_of
        }

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        rows = self._rows()
        for nid, vec in vectors.items():
            rows[self.position_of[nid]] = vec


class ChromaWriter:
    """``ChromaVectorStore``: vectors updated through the collection, documents kept."""

    def __init__(self, store: Any) -> None:
        self.collection = store._collection
        space = (self.collection.metadata or {}).get("hnsw:space")
        if space is None:
            config = getattr(self.collection, "configuration_json", None) or {}
            space = (config.get("hnsw") or {}).get("space")
        self.similarity = {"ip": "dot", "cosine": "cosine", "l2": "l2", None: "l2"}.get(space)

    def all_ids(self) -> list[str]:
        return [str(i) for i in self.collection.get(include=[])["ids"]]

    def read(self, node_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        got = self.collection.get(ids=list(node_ids), include=["embeddings"])
        return {
            nid: np.asarray(vec, dtype=np.float32)
            for nid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        ids = list(vectors)
        self.collection.update(ids=ids, embeddings=[np.asarray(vectors[i]).tolist() for i in ids])


class MilvusWriter:
    """``MilvusVectorStore``: rows re-written with upsert, every other field kept."""

    def __init__(self, store: Any) -> None:
        self.client = store.client
        self.collection = store.collection_name
        self.field = store.embedding_field
        self.similarity = {"IP": "dot", "COSINE": "cosine", "L2": "l2"}.get(
            str(store.similarity_metric).upper()
        )

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        page = 16384
        while True:
            rows = self.client.query(
                collection_name=self.collection,
                filter='id != ""',
                output_fields=["id"],
                limit=page,
                offset=len(ids),
            )
            ids.extend(str(r["id"]) for r in rows)
            if len(rows) < page:
                return ids

    def _rows(self, node_ids: Sequence[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.client.get(
            collection_name=self.collection, ids=list(node_ids), output_fields=["*"]
        )
        return rows

    def read(self, node_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return {
            str(row["id"]): np.asarray(row[self.field], dtype=np.float32)
            for row in self._rows(node_ids)
        }

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        rows = self._rows(list(vectors))
        for row in rows:
            row[self.field] = np.asarray(vectors[str(row["id"])], dtype=np.float32).tolist()
        self.client.upsert(collection_name=self.collection, data=rows)


def writer_for(store: Any, position_of: Mapping[str, int] | None = None) -> StoreWriter:
    """The writer for a LlamaIndex vector store, or a clear error for unsupported ones."""
    name = type(store).__name__
    if name == "SimpleVectorStore":
        return SimpleWriter(store)
    if name == "FaissVectorStore":
        if position_of is None:
            raise NudgeError("a FAISS store is updated through its index: pass the index")
        return FaissWriter(store, position_of)
    if name == "ChromaVectorStore":
        return ChromaWriter(store)
    if name == "MilvusVectorStore":
        return MilvusWriter(store)
    raise NudgeError(
        f"updating {name} in place is not supported yet (supported: SimpleVectorStore, "
        "FaissVectorStore, ChromaVectorStore, MilvusVectorStore): build a new index with "
        "engine.as_index(storage_context=...) instead"
    )


def store_similarity(store: Any, position_of: Mapping[str, int] | None = None) -> str | None:
    """``"dot"``, ``"cosine"``, ``"l2"``, or None when it cannot be told."""
    if store is None:
        return "cosine"  # LlamaIndex's default SimpleVectorStore
    try:
        return writer_for(store, position_of or {}).similarity
    except NudgeError:
        return None


def require_inner_product(store: Any, position_of: Mapping[str, int] | None = None) -> None:
    """Refuse to serve NUDGE-M vectors from a store that does not rank by inner product."""
    sim = store_similarity(store, position_of)
    if sim != "dot":
        name = "the default SimpleVectorStore" if store is None else type(store).__name__
        raise MetricMismatchError(
            f"NUDGE-M vectors are not unit-norm and must be ranked by inner product, but "
            f"{name} ranks by {sim or 'an unknown metric'}, which would silently mis-rank "
            "them. Use engine.as_retriever() (exact inner product), a store configured for "
            "inner product (FAISS IndexFlatIP, Milvus similarity_metric='IP', Chroma "
            "hnsw:space='ip'), or NUDGE-N, whose vectors are unit-norm"
        )


def swap_vectors(writer: StoreWriter, new: Mapping[str, NDArray[np.float32]], *, dim: int) -> None:
    """Write ``new`` (id -> vector) into the store, all or nothing."""
    ids = list(new)
    current = writer.read(ids)
    missing = [nid for nid in ids if nid not in current]
    if missing:
        raise UnknownIdError(
            f"node {missing[0]!r} is not in the vector store ({len(missing)} missing): the "
            "store must hold the nodes the engine was fitted on"
        )
    for nid in ids[:1]:
        if current[nid].shape != (dim,):
            raise ShapeError(
                f"the store holds {current[nid].size}-d vectors but NUDGE produced {dim}-d "
                "ones: the store was built with another embed model"
            )
    done: list[str] = []
    try:
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            writer.write({nid: new[nid] for nid in batch})
            done.extend(batch)
    except Exception:
        if done:
            writer.write({nid: current[nid] for nid in done})
        raise
