"""LangChain vector stores: read their documents and vectors, and write vectors in place.

Each supported store maps to a :class:`StoreAdapter`: ``load()`` returns the documents
(with ids, text and metadata) and the vectors the store holds; ``writer()`` gives the
shared in-place writer (``nudge_integrations.stores``). Supported: ``InMemoryVectorStore``,
``FAISS`` (``langchain-community``, flat indexes), ``Chroma`` (``langchain-chroma``, embedded
or server), ``Milvus`` (``langchain-milvus``, Milvus Lite or server),
``QdrantVectorStore`` (``langchain-qdrant``, local mode or server), ``LanceDB``
(``langchain-community``, embedded) and ``PGVector`` (``langchain-postgres``, sync mode);
further stores register with :func:`register`. Client libraries are imported only when a
store of theirs is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.sources import ArraySource
from nudge_integrations.stores import (
    ChromaWriter,
    FaissFlatWriter,
    MilvusWriter,
    QdrantWriter,
    StoreWriter,
)
from nudge_integrations.stores.base import MARKER, Limits
from nudge_integrations.stores.pgvector import PgVectorWriter

#: Records read per call when loading a store.
PAGE = 1000


@dataclass
class Loaded:
    """What a store holds: documents, and vectors by id (possibly for only some of them)."""

    documents: list[Document]
    vectors: dict[str, NDArray[np.float32]]


class StoreAdapter:
    """Read documents and vectors from one LangChain store; write vectors back."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def load(self) -> Loaded:
        raise NotImplementedError

    def writer(self) -> StoreWriter:
        raise NotImplementedError

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        """Current text of the given ids (absent ids left out)."""
        raise NotImplementedError


def _meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's metadata as the user wrote it: without the nudge ledger marker."""
    return {k: v for k, v in (meta or {}).items() if k != MARKER}


class InMemoryWriter:
    """``InMemoryVectorStore``: vectors replaced in its ``store`` dict (cosine ranking)."""

    #: Placeholder until the store's own limits move into its folder (issue 17).
    limits = Limits()

    similarity: str | None = "cosine"

    def __init__(self, store: InMemoryVectorStore) -> None:
        self.table = store.store

    def all_ids(self) -> list[str]:
        return list(self.table)

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return {i: np.asarray(self.table[i]["vector"], np.float32) for i in ids if i in self.table}

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        for i, vec in vectors.items():
            self.table[i]["vector"] = np.asarray(vec, dtype=np.float32).tolist()

    #: The store ranks by exact cosine over every record.
    exact = True

    def count(self) -> int:
        return len(self.table)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by cosine, as the store itself ranks."""
        if not self.table:
            return [[] for _ in range(len(queries))]
        ids = list(self.table)
        return ArraySource([self.table[i]["vector"] for i in ids], ids).nearest(queries, limit)

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        return {
            i: str(self.table[i]["metadata"][MARKER])
            for i in ids
            if i in self.table and (self.table[i].get("metadata") or {}).get(MARKER)
        }

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        for i in ids:  # a new dict: the store may share the user's Document.metadata
            self.table[i]["metadata"] = _marked(self.table[i].get("metadata"), value)


def _marked(meta: Mapping[str, Any] | None, value: str | None) -> dict[str, Any]:
    """A copy of ``meta`` with the ledger marker set to ``value`` (None: removed)."""
    out = _meta(meta)
    if value is not None:
        out[MARKER] = value
    return out


class InMemoryAdapter(StoreAdapter):
    store: InMemoryVectorStore

    def load(self) -> Loaded:
        docs, vectors = [], {}
        for doc_id, rec in self.store.store.items():
            docs.append(
                Document(id=doc_id, page_content=rec["text"], metadata=_meta(rec["metadata"]))
            )
            vectors[doc_id] = np.asarray(rec["vector"], dtype=np.float32)
        return Loaded(docs, vectors)

    def writer(self) -> StoreWriter:
        return InMemoryWriter(self.store)

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        table = self.store.store
        return {i: table[i]["text"] for i in ids if i in table}


def _value(x: Any) -> str:
    """An enum's value (or the thing itself) as an upper-case string."""
    return str(getattr(x, "value", x)).upper()


# --------------------------------------------------------------------------- FAISS
def _faiss_similarity(store: Any, index_metric: str | None) -> str | None:
    """How a LangChain ``FAISS`` store ranks: its ``distance_strategy`` (what its scores
    mean) checked against the FAISS index's metric (what ``search`` ranks by)."""
    strategy = _value(getattr(store, "distance_strategy", "EUCLIDEAN_DISTANCE"))
    normalized = bool(getattr(store, "_normalize_L2", False))
    if index_metric == "dot":
        if strategy in ("MAX_INNER_PRODUCT", "DOT_PRODUCT"):
            return "dot"
        if strategy == "COSINE":
            return "cosine"
        return None  # an inner-product index whose scores are read as distances
    if index_metric == "l2":
        # L2 over L2-normalised vectors ranks like cosine
        return "cosine" if normalized or strategy == "COSINE" else "l2"
    return None


class FaissAdapter(StoreAdapter):
    """``langchain_community.vectorstores.FAISS``: documents in ``docstore``, rows of a flat
    index mapped to ids by ``index_to_docstore_id``."""

    def _positions(self) -> dict[str, int]:
        return {str(i): int(pos) for pos, i in self.store.index_to_docstore_id.items()}

    def load(self) -> Loaded:
        docs = []
        for pos in sorted(self.store.index_to_docstore_id):
            doc_id = self.store.index_to_docstore_id[pos]
            doc = self.store.docstore.search(doc_id)
            if not isinstance(doc, Document):
                raise NudgeError(
                    f"the FAISS docstore holds no document for id {doc_id!r} (row {pos})"
                )
            docs.append(
                Document(
                    id=str(doc_id), page_content=doc.page_content, metadata=_meta(doc.metadata)
                )
            )
        writer = self.writer()
        return Loaded(docs, writer.read(writer.all_ids()))

    def _docs(self, ids: Sequence[str]) -> dict[str, Document]:
        known = set(self.store.index_to_docstore_id.values())
        found = {i: self.store.docstore.search(i) for i in ids if i in known}
        return {i: d for i, d in found.items() if isinstance(d, Document)}

    def writer(self) -> StoreWriter:
        writer = FaissDocstoreWriter(self.store.index, self._positions(), self)
        writer.similarity = _faiss_similarity(self.store, writer.similarity)
        return writer

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: d.page_content for i, d in self._docs(ids).items()}


class FaissDocstoreWriter(FaissFlatWriter):
    """A LangChain FAISS store's flat index, with markers in its docstore's metadata."""

    def __init__(self, index: Any, position_of: Mapping[str, int], adapter: FaissAdapter) -> None:
        super().__init__(index, position_of)
        self.adapter = adapter

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        docs = self.adapter._docs(ids)
        return {i: str(d.metadata[MARKER]) for i, d in docs.items() if d.metadata.get(MARKER)}

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        table = getattr(self.adapter.store.docstore, "_dict", None)
        if not isinstance(table, dict):
            return  # a docstore that cannot be updated in place carries no markers
        for i, doc in self.adapter._docs(ids).items():  # new Documents: never the user's
            table[i] = doc.model_copy(update={"metadata": _marked(doc.metadata, value)})


# --------------------------------------------------------------------------- Chroma
class ChromaAdapter(StoreAdapter):
    """``langchain_chroma.Chroma`` (embedded or client/server): its ``_collection``."""

    def load(self) -> Loaded:
        collection = self.store._collection
        docs, vectors = [], {}
        offset = 0
        while True:
            got = collection.get(
                include=["documents", "metadatas", "embeddings"], limit=PAGE, offset=offset
            )
            ids = [str(i) for i in got["ids"]]
            texts = got.get("documents")
            metas = got.get("metadatas")
            embs = got.get("embeddings")
            for n, doc_id in enumerate(ids):
                text = texts[n] if texts is not None else None
                meta = metas[n] if metas is not None else None
                docs.append(Document(id=doc_id, page_content=text or "", metadata=_meta(meta)))
                if embs is not None and embs[n] is not None:
                    vectors[doc_id] = np.asarray(embs[n], dtype=np.float32)
            if len(ids) < PAGE:
                return Loaded(docs, vectors)
            offset += len(ids)

    def writer(self) -> StoreWriter:
        return ChromaWriter(self.store._collection)

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        got = self.store._collection.get(ids=list(ids), include=["documents"])
        return {str(i): t or "" for i, t in zip(got["ids"], got["documents"] or [], strict=False)}


# --------------------------------------------------------------------------- Milvus
_DENSE = {"FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR"}


class MilvusAdapter(StoreAdapter):
    """``langchain_milvus.Milvus`` through its ``MilvusClient`` (``store.client``): primary
    key ``store._primary_field``, text ``store._text_field``, the one dense vector field
    among ``store._vector_field``; metadata in the other fields (or ``_metadata_field``)."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        client = getattr(store, "client", None)
        if client is None or not hasattr(client, "describe_collection"):
            raise NudgeError(
                f"{type(store).__name__} exposes no MilvusClient (store.client): use "
                "langchain_milvus.Milvus (the langchain_community one is not supported)"
            )
        self.client = client
        self.collection: str = store.collection_name
        if not client.has_collection(self.collection):
            raise NudgeError(f"the Milvus collection {self.collection!r} does not exist yet")
        fields = {f["name"]: f for f in client.describe_collection(self.collection)["fields"]}
        self.id_field: str = store._primary_field
        self.text_field: str = store._text_field
        self.vector_fields = [str(f) for f in _as_list(store._vector_field)]
        id_type = _value(getattr(fields.get(self.id_field, {}).get("type"), "name", ""))
        if id_type != "VARCHAR":
            raise NudgeError(
                f"the Milvus collection {self.collection!r} has {id_type or 'non-string'} "
                "primary keys (auto_id=True): build the store with auto_id=False and "
                "document ids"
            )
        dense = [
            f
            for f in self.vector_fields
            if _value(getattr(fields.get(f, {}).get("type"), "name", "")) in _DENSE
        ]
        if len(dense) != 1:
            raise NudgeError(
                f"the Milvus collection {self.collection!r} has {len(dense)} dense vector "
                f"fields ({', '.join(dense) or 'none'}); exactly one is supported"
            )
        self.vector_field = dense[0]

    def _metric(self) -> str:
        for name in self.client.list_indexes(self.collection, field_name=self.vector_field):
            metric = self.client.describe_index(self.collection, name).get("metric_type")
            if metric:
                return str(metric)
        params = self.store.index_params
        if isinstance(params, list):
            params = dict(zip(self.vector_fields, params, strict=False)).get(self.vector_field)
        return str((params or {}).get("metric_type", ""))

    def load(self) -> Loaded:
        meta_field = getattr(self.store, "_metadata_field", None)
        skip = {self.id_field, self.text_field, *self.vector_fields}
        docs, vectors = [], {}
        found = self.client.query_iterator(
            collection_name=self.collection, batch_size=PAGE, filter="", output_fields=["*"]
        )
        try:
            while rows := found.next():
                for row in rows:
                    doc_id = str(row[self.id_field])
                    if meta_field:
                        meta = dict(row.get(meta_field) or {})
                    else:
                        meta = {k: v for k, v in row.items() if k not in skip}
                    text = row.get(self.text_field) or ""
                    docs.append(Document(id=doc_id, page_content=text, metadata=meta))
                    vectors[doc_id] = np.asarray(row[self.vector_field], dtype=np.float32)
        finally:
            found.close()
        return Loaded(docs, vectors)

    def writer(self) -> StoreWriter:
        args = getattr(self.store, "_connection_args", None) or {}
        return MilvusWriter(
            self.client,
            self.collection,
            id_field=self.id_field,
            vector_field=self.vector_field,
            metric=self._metric(),
            uri=args.get("uri"),
        )

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        rows = self.client.get(
            collection_name=self.collection, ids=list(ids), output_fields=[self.text_field]
        )
        return {str(r[self.id_field]): r.get(self.text_field) or "" for r in rows}


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


# --------------------------------------------------------------------------- Qdrant
class QdrantAdapter(StoreAdapter):
    """``langchain_qdrant.QdrantVectorStore`` (local mode or server): text and metadata in
    the payload keys ``content_payload_key`` and ``metadata_payload_key``, the dense
    vector named ``vector_name``."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        if _value(getattr(store, "retrieval_mode", "dense")) == "SPARSE":
            raise NudgeError(
                "this QdrantVectorStore retrieves by sparse vectors only: NUDGE moves dense "
                "vectors (use retrieval_mode DENSE or HYBRID)"
            )
        self.vector_name: str = store.vector_name or ""

    def load(self) -> Loaded:
        client, collection = self.store.client, self.store.collection_name
        text_key = self.store.content_payload_key
        meta_key = self.store.metadata_payload_key
        docs, vectors = [], {}
        offset = None
        while True:
            points, offset = client.scroll(
                collection, limit=PAGE, offset=offset, with_payload=True, with_vectors=True
            )
            for point in points:
                doc_id, payload = str(point.id), point.payload or {}
                docs.append(
                    Document(
                        id=doc_id,
                        page_content=payload.get(text_key) or "",
                        metadata=_meta(payload.get(meta_key)),
                    )
                )
                vec = point.vector
                if isinstance(vec, dict):
                    vec = vec.get(self.vector_name)
                if vec is not None:
                    vectors[doc_id] = np.asarray(vec, dtype=np.float32)
            if offset is None:
                return Loaded(docs, vectors)

    def writer(self) -> StoreWriter:
        return QdrantWriter(
            self.store.client, self.store.collection_name, vector_name=self.vector_name
        )

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        key = self.store.content_payload_key
        points = self.store.client.retrieve(
            self.store.collection_name, ids=list(ids), with_payload=[key]
        )
        return {str(p.id): (p.payload or {}).get(key) or "" for p in points}


_ADAPTERS: dict[str, Callable[[Any], StoreAdapter]] = {
    "InMemoryVectorStore": InMemoryAdapter,
    "FAISS": FaissAdapter,
    "Chroma": ChromaAdapter,
    "Milvus": MilvusAdapter,
    "QdrantVectorStore": QdrantAdapter,
    "LanceDB": lambda store: lancedb_adapter(store),  # defined below
    "PGVector": lambda store: PGVectorAdapter(store),  # defined below
}


def register(class_name: str, factory: Callable[[Any], StoreAdapter]) -> None:
    """Teach the package a vector store class (by class name)."""
    _ADAPTERS[class_name] = factory


def adapter_for(store: VectorStore | Any) -> StoreAdapter:
    """The adapter of a store, or a clear error naming the supported ones."""
    for cls in type(store).__mro__:
        factory = _ADAPTERS.get(cls.__name__)
        if factory is not None:
            return factory(store)
    raise NudgeError(
        f"{type(store).__name__} is not supported for reading and updating vectors in place "
        f"(supported: {', '.join(sorted(_ADAPTERS))}); fit from Documents instead and serve "
        "NudgeRetriever, or rebuild the store from the nudged vectors"
    )


# --------------------------------------------------------------------------- PGVector
class PGVectorAdapter(StoreAdapter):
    """``langchain_postgres.PGVector`` (sync mode): the rows of its collection in
    ``langchain_pg_embedding`` (``id``, ``document``, ``cmetadata``, ``embedding``), ranked
    by its ``distance_strategy``."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        if getattr(store, "_engine", None) is None:
            raise NudgeError(
                "this PGVector was made with async_mode=True and has no sync engine: make a "
                "PGVector on the same connection and collection_name without async_mode to "
                "fit, swap and revert (it sees the same rows)"
            )

    def writer(self) -> PgVectorWriter:
        rows, collections = self.store.EmbeddingStore.__table__, self.store.CollectionStore
        with self.store._engine.connect() as conn:
            found = conn.exec_driver_sql(
                f"SELECT uuid FROM {collections.__tablename__} WHERE name = %s",
                (self.store.collection_name,),
            ).fetchone()
        if found is None:
            raise NudgeError(
                f"the PGVector collection {self.store.collection_name!r} does not exist in "
                "this database: check collection_name and the connection"
            )
        strategy = str(getattr(self.store._distance_strategy, "value", "")).lower()
        return PgVectorWriter(
            self.store._engine,
            rows.name,
            schema=rows.schema,
            id_column="id",
            vector_column="embedding",
            metadata_column="cmetadata",
            scope=("collection_id", str(found[0])),
            similarity={"inner": "dot", "cosine": "cosine", "l2": "l2"}.get(strategy),
            collection=self.store.collection_name,
        )

    def load(self) -> Loaded:
        docs, vectors = [], {}
        for doc_id, (text, meta), vec in self.writer().rows(
            ["document", "cmetadata"], vectors=True
        ):
            docs.append(Document(id=doc_id, page_content=text or "", metadata=_meta(meta)))
            if vec is not None:
                vectors[doc_id] = vec
        return Loaded(docs, vectors)

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: text or "" for i, (text,), _ in self.writer().rows(["document"], ids)}


# --------------------------------------------------------------------------- LanceDB
def lancedb_adapter(store: Any) -> StoreAdapter:
    """``langchain_community.vectorstores.LanceDB`` (``nudge_integrations.langchain.lancedb``)."""
    from nudge_integrations.langchain.lancedb import LanceDBAdapter

    return LanceDBAdapter(store)
