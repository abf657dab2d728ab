"""Small real populated stores for the shared store suite (``test_every_store.py``): one
factory per registered (store, framework), each building :data:`N` records (UUID ids,
short texts, 16-d unit vectors from the tests' hashing embedder) in the real store, with
the tests' fixtures for servers (``chroma_server``, ``pg_url``).

A factory returns what the adapter takes: a LlamaIndex ``VectorStoreIndex`` over the
store, or the LangChain store. A new store registers a factory here, or the suite fails.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..hashing import hash_embed
from ..optional import need
from ..pg_server import driver_url

#: Records per store, their vectors' dimension, and the records the questions name (moved).
N, DIM, MOVED = 40, 16, 24
#: Records per request on every adapter call (``batch_size=``): a swap of MOVED records
#: takes 8 vector requests and 8 marker requests.
BATCH = 3
#: A Chroma server's max batch size, lowered so its own client refuses larger requests.
CHROMA_MAX_BATCH = 7

IDS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"every-store/{n}")) for n in range(N)]
TEXTS = [f"rec{n} " + " ".join(f"w{(n * 7 + k * 13) % 97}" for k in range(5)) for n in range(N)]
#: (question, [relevant id]) for the first MOVED records.
QUESTIONS = [(f"which rec{n} w{(n * 7) % 97}", [IDS[n]]) for n in range(MOVED)]


@dataclass
class Built:
    """A populated store as the adapter takes it, and how far a vector written back may
    be from the one read (Chroma and Qdrant re-normalise vectors for cosine)."""

    obj: Any
    rounding: float = 0.0


Factory = Callable[[Path, pytest.FixtureRequest], Built]
FACTORIES: dict[tuple[str, str], Factory] = {}

#: Stores that re-normalise every vector for cosine: restored within float32 rounding.
COSINE_ROUNDING = 1e-6


def factory(store: str, framework: str) -> Callable[[Factory], Factory]:
    """Register ``fn`` as the factory of ``store`` for ``framework``."""

    def add(fn: Factory) -> Factory:
        FACTORIES[(store, framework)] = fn
        return fn

    return add


def _name() -> str:
    return f"every_{uuid.uuid4().hex[:10]}"


# ----------------------------------------------------------------------------- embedders
def _floats(text: str) -> list[float]:
    return [float(x) for x in hash_embed(text, DIM)]


@functools.cache
def _lc_embeddings_class() -> Any:
    from ..langchain.conftest import HashEmbeddings

    class Hash16(HashEmbeddings):
        """The LangChain tests' hashing embeddings, at :data:`DIM` dimensions."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            self.document_calls += len(texts)
            return [_floats(t) for t in texts]

        def embed_query(self, text: str) -> list[float]:
            self.query_calls += 1
            return _floats(text)

    return Hash16


@functools.cache
def _li_embedding_class() -> Any:
    from ..llama_index.conftest import HashEmbedding

    class Hash16(HashEmbedding):
        """The LlamaIndex tests' hashing embed model, at :data:`DIM` dimensions."""

        def _get_text_embedding(self, text: str) -> list[float]:
            self.text_calls += 1
            return _floats(text)

        def _get_query_embedding(self, query: str) -> list[float]:
            self.query_calls += 1
            return _floats(query)

    return Hash16


def lc_embeddings() -> Any:
    need("langchain_core")
    return _lc_embeddings_class()()


def li_embedding() -> Any:
    need("llama_index.core")
    return _li_embedding_class()(model_name="hash-16", embed_batch_size=16)


def lc_documents() -> list[Any]:
    from langchain_core.documents import Document

    return [
        Document(id=i, page_content=t, metadata={"n": n})
        for n, (i, t) in enumerate(zip(IDS, TEXTS, strict=True))
    ]


def li_index(store: Any = None) -> Any:
    """A ``VectorStoreIndex`` of the records over ``store`` (None: its default store)."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode

    nodes = [
        TextNode(id_=i, text=t, metadata={"n": n})
        for n, (i, t) in enumerate(zip(IDS, TEXTS, strict=True))
    ]
    if store is None:
        return VectorStoreIndex(nodes, embed_model=li_embedding())
    ctx = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex(nodes, storage_context=ctx, embed_model=li_embedding())


# ----------------------------------------------------------------------------- memory
@factory("memory", "llama_index")
def memory_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    return Built(li_index())


@factory("memory", "langchain")
def memory_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore(lc_embeddings())
    store.add_documents(lc_documents())
    return Built(store)


# ----------------------------------------------------------------------------- faiss
@factory("faiss", "llama_index")
def faiss_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    faiss = need("faiss")
    mod = need("llama_index.vector_stores.faiss")
    return Built(li_index(mod.FaissVectorStore(faiss_index=faiss.IndexFlatIP(DIM))))


@factory("faiss", "langchain")
def faiss_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    need("faiss")
    mod = need("langchain_community.vectorstores")
    return Built(mod.FAISS.from_documents(lc_documents(), lc_embeddings()))


# ----------------------------------------------------------------------------- chroma
@factory("chroma", "llama_index")
def chroma_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """A persistent Chroma folder, its default metric (l2: vectors kept as given)."""
    chromadb = need("chromadb")
    mod = need("llama_index.vector_stores.chroma")
    client = chromadb.PersistentClient(path=str(tmp / "chroma"))
    store = mod.ChromaVectorStore(chroma_collection=client.create_collection(_name()))
    return Built(li_index(store))


@factory("chroma", "langchain")
def chroma_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """A collection on the tests' ``chroma run`` server, cosine, whose client reports a
    max batch size of :data:`CHROMA_MAX_BATCH` (so it refuses any larger request)."""
    mod = need("langchain_chroma")
    from nudge_integrations.compat.clients import chroma_client

    server = request.getfixturevalue("chroma_server")
    store = mod.Chroma(
        collection_name=_name(),
        embedding_function=lc_embeddings(),
        client=server,
        collection_metadata={"hnsw:space": "cosine"},
    )
    store.add_documents(lc_documents())
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    client = chroma_client(store._collection)
    monkeypatch.setattr(client, "get_max_batch_size", lambda: CHROMA_MAX_BATCH)
    return Built(store, COSINE_ROUNDING)


# ----------------------------------------------------------------------------- milvus
@factory("milvus", "llama_index")
def milvus_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    need("milvus_lite")
    mod = need("llama_index.vector_stores.milvus")
    store = mod.MilvusVectorStore(uri=str(tmp / "m.db"), dim=DIM, overwrite=True)
    return Built(li_index(store))


@factory("milvus", "langchain")
def milvus_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    need("milvus_lite")
    mod = need("langchain_milvus")
    request.getfixturevalue("milvus_client_alias")
    store = mod.Milvus(
        lc_embeddings(),
        collection_name=_name(),
        connection_args={"uri": str(tmp / "m.db")},
        auto_id=False,
        index_params={"metric_type": "IP", "index_type": "FLAT"},
    )
    store.add_documents(lc_documents(), ids=IDS)
    return Built(store)


# ----------------------------------------------------------------------------- qdrant
@factory("qdrant", "llama_index")
def qdrant_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """Local mode, LlamaIndex's default distance (cosine: vectors re-normalised)."""
    qdrant = need("qdrant_client")
    mod = need("llama_index.vector_stores.qdrant")
    client = qdrant.QdrantClient(path=str(tmp / "q"))
    request.addfinalizer(client.close)
    return Built(li_index(mod.QdrantVectorStore(_name(), client=client)), COSINE_ROUNDING)


@factory("qdrant", "langchain")
def qdrant_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """Local mode, cosine (vectors re-normalised)."""
    qdrant = need("qdrant_client")
    mod = need("langchain_qdrant")
    from qdrant_client import models

    client = qdrant.QdrantClient(path=str(tmp / "q"))
    request.addfinalizer(client.close)
    name = _name()
    cosine = models.Distance.COSINE
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=cosine))
    store = mod.QdrantVectorStore(client, name, lc_embeddings(), distance=cosine)
    store.add_documents(lc_documents())
    return Built(store, COSINE_ROUNDING)


# ----------------------------------------------------------------------------- lancedb
@factory("lancedb", "llama_index")
def lancedb_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    need("lancedb")
    mod = need("llama_index.vector_stores.lancedb")
    return Built(li_index(mod.LanceDBVectorStore(uri=str(tmp / "lance"), table_name=_name())))


@factory("lancedb", "langchain")
def lancedb_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    need("lancedb")
    mod = need("langchain_community.vectorstores")
    store = mod.LanceDB(uri=str(tmp / "lance"), embedding=lc_embeddings(), table_name=_name())
    store.add_documents(lc_documents())
    return Built(store)


# ----------------------------------------------------------------------------- pgvector
@factory("pgvector", "llama_index")
def pgvector_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """``PGVectorStore`` in a fresh database of the tests' PostgreSQL server."""
    mod = need("llama_index.vector_stores.postgres")
    url = request.getfixturevalue("pg_url")
    store = mod.PGVectorStore(
        connection_string=driver_url(url, "psycopg2"),
        async_connection_string=driver_url(url, "asyncpg"),
        table_name=_name(),
        embed_dim=DIM,
    )
    request.addfinalizer(lambda: store._engine and store._engine.dispose())
    return Built(li_index(store))


@factory("pgvector", "langchain")
def pgvector_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """langchain-postgres ``PGVector`` in a fresh database of the tests' server."""
    mod = need("langchain_postgres")
    # langchain-postgres builds its table classes once per process, with the dimension of
    # the first store made (0.0.19: vectorstores._classes on one declarative Base): give
    # this store its own, so an earlier test's 64-d store does not refuse these 16-d rows
    from sqlalchemy.orm import declarative_base

    patch = pytest.MonkeyPatch()
    request.addfinalizer(patch.undo)
    patch.setattr(mod.vectorstores, "_classes", None)
    patch.setattr(mod.vectorstores, "Base", declarative_base())
    store = mod.PGVector(
        lc_embeddings(),
        connection=driver_url(request.getfixturevalue("pg_url"), "psycopg"),
        collection_name=_name(),
        embedding_length=DIM,
    )
    request.addfinalizer(store._engine.dispose)
    store.add_documents(lc_documents(), ids=IDS)
    return Built(store)


# ----------------------------------------------------------------------------- recipe
@factory("recipe", "llama_index")
def recipe_llama_index(tmp: Path, request: pytest.FixtureRequest) -> Built:
    """The recipe store (tests/stores/recipe/), a SQLite file, registered by the suite."""
    need("llama_index.core")
    from .recipe.llama_index import SqliteLlamaIndexStore

    store = SqliteLlamaIndexStore(tmp / "recipe.db")
    request.addfinalizer(store.table.close)
    return Built(li_index(store))


@factory("recipe", "langchain")
def recipe_langchain(tmp: Path, request: pytest.FixtureRequest) -> Built:
    need("langchain_core")
    from .recipe.langchain import SqliteLangChainStore

    docs = lc_documents()
    store = SqliteLangChainStore.from_texts(
        [d.page_content for d in docs],
        lc_embeddings(),
        [d.metadata for d in docs],
        ids=IDS,
        path=tmp / "recipe.db",
    )
    request.addfinalizer(store.table.close)
    return Built(store)
