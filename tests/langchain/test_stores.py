"""LangChain vector stores updated in place: FAISS, Chroma (embedded and a local server),
Milvus Lite, Qdrant local mode, LanceDB (a local folder) and PGVector (a real PostgreSQL +
pgvector server). Each is built from the corpus with the hashing embeddings, fitted from
(without re-embedding), swapped, searched through its own ``similarity_search``, and
reverted; the same checks run on every store. Store-specific behaviour (reopening in a
new process, rollback, collections, ...) is tested in the stores' own files."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from nudge_integrations.core.errors import MetricMismatchError
from nudge_integrations.langchain import NudgeFitter

from ..hashing import hash_embed
from ..optional import need
from ..pg_server import driver_url
from ..tiers import slow_for
from .conftest import HashEmbeddings
from .stored import documents, writer_of

KINDS = ["faiss", "chroma", "chroma-server", "milvus", "qdrant", "lancedb", "pgvector"]
_names = itertools.count()


def _name() -> str:
    return f"nudge_{next(_names)}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def milvus_client_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """langchain-milvus < 0.4 opens ORM ``Collection(using=client._using)``, an alias that
    pymilvus >= 2.6.10 no longer registers (langchain-ai/langchain-milvus#130); register it
    as langchain-milvus#132 does. A no-op where the alias exists or is not used."""
    mod = need("langchain_milvus.vectorstores.milvus")
    from pymilvus import connections

    base = mod.MilvusClient

    class Client(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            alias = getattr(self, "_using", None)
            handler = getattr(self, "_handler", None)
            if alias and handler is not None:
                connections._alias_handlers.setdefault(alias, handler)

    monkeypatch.setattr(mod, "MilvusClient", Client)


# ----------------------------------------------------------------------------- stores
def faiss_store(docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any) -> Any:
    need("faiss")
    mod = need("langchain_community.vectorstores")
    from langchain_community.vectorstores.utils import DistanceStrategy

    strategy = DistanceStrategy.MAX_INNER_PRODUCT if ip else DistanceStrategy.EUCLIDEAN_DISTANCE
    return mod.FAISS.from_documents(docs, emb, distance_strategy=strategy)


def _chroma(client: Any, docs: list[Document], emb: HashEmbeddings, ip: bool) -> Any:
    mod = need("langchain_chroma")
    store = mod.Chroma(
        collection_name=_name(),
        embedding_function=emb,
        client=client,
        collection_metadata={"hnsw:space": "ip" if ip else "cosine"},
    )
    store.add_documents(docs)
    return store


def chroma_store(docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any) -> Any:
    chromadb = need("chromadb")
    return _chroma(chromadb.PersistentClient(path=str(tmp / "chroma")), docs, emb, ip)


def chroma_server_store(
    docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any
) -> Any:
    return _chroma(req.getfixturevalue("chroma_server"), docs, emb, ip)


def milvus_store(docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any) -> Any:
    need("milvus_lite")
    mod = need("langchain_milvus")
    req.getfixturevalue("milvus_client_alias")
    store = mod.Milvus(
        emb,
        collection_name=_name(),
        connection_args={"uri": str(tmp / "m.db")},
        auto_id=False,
        index_params={"metric_type": "IP" if ip else "COSINE", "index_type": "FLAT"},
    )
    store.add_documents(docs, ids=[d.id for d in docs])
    return store


def qdrant_store(docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any) -> Any:
    qdrant = need("qdrant_client")
    mod = need("langchain_qdrant")
    from qdrant_client import models

    client = qdrant.QdrantClient(path=str(tmp / "q"))
    req.addfinalizer(client.close)
    distance = models.Distance.DOT if ip else models.Distance.COSINE
    name = _name()
    size = len(emb.embed_query("x"))
    client.create_collection(name, vectors_config=models.VectorParams(size=size, distance=distance))
    store = mod.QdrantVectorStore(client, name, emb, distance=distance)
    store.add_documents(docs)
    return store


def lancedb_store(docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any) -> Any:
    """A LanceDB table ranks by its vector index's metric, ``l2`` without one: ``ip``
    gives it a ``dot`` index (as in test_lancedb_store.py)."""
    need("lancedb")
    mod = need("langchain_community.vectorstores")
    store = mod.LanceDB(uri=str(tmp / "lance"), embedding=emb, table_name=_name())
    store.add_documents(docs)
    if ip:
        from lancedb.index import IvfFlat

        config = IvfFlat(distance_type="dot", num_partitions=2)
        store.get_table().create_index("vector", config=config)
    return store


def pgvector_store(docs: list[Document], emb: HashEmbeddings, ip: bool, tmp: Path, req: Any) -> Any:
    """langchain-postgres ``PGVector`` in a fresh database of the session's server."""
    lc_pg = need("langchain_postgres")
    from langchain_postgres.vectorstores import DistanceStrategy

    strategy = DistanceStrategy.MAX_INNER_PRODUCT if ip else DistanceStrategy.COSINE
    store = lc_pg.PGVector(
        emb,
        connection=driver_url(req.getfixturevalue("pg_url"), "psycopg"),
        collection_name=_name(),
        distance_strategy=strategy,
        embedding_length=len(emb.embed_query("x")),
    )
    req.addfinalizer(store._engine.dispose)
    store.add_documents(docs, ids=[d.id for d in docs])
    return store


BUILDERS: dict[str, Callable[..., Any]] = {
    "faiss": faiss_store,
    "chroma": chroma_store,
    "chroma-server": chroma_server_store,
    "milvus": milvus_store,
    "qdrant": qdrant_store,
    "lancedb": lancedb_store,
    "pgvector": pgvector_store,
}
assert sorted(BUILDERS) == sorted(KINDS)


@pytest.fixture
def corpus(
    qa: dict[str, Any],
    embeddings: HashEmbeddings,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Callable[[str, bool], tuple[Any, list[Document], Callable[[str], Any]]]:
    """``make(kind, ip)``: (store, its documents, pairs(split)). Qdrant point ids must be
    UUIDs or integers, so its documents get UUID ids (the QA pairs follow)."""

    def make(kind: str, ip: bool) -> tuple[Any, list[Document], Callable[[str], Any]]:
        docs: list[Document] = qa["docs"]
        pairs: Callable[[str], Any] = qa["pairs"]
        if kind == "qdrant":
            new = {d.id: str(uuid.uuid5(uuid.NAMESPACE_URL, str(d.id))) for d in docs}
            docs = [
                Document(id=new[d.id], page_content=d.page_content, metadata=d.metadata)
                for d in docs
            ]

            def pairs(split: str) -> Any:
                return [(q, [new[i] for i in rel]) for q, rel in qa["pairs"](split)]

        store = BUILDERS[kind](docs, embeddings, ip, tmp_path, request)
        return store, docs, pairs

    return make


# ----------------------------------------------------------------------------- helpers
def vectors(store: Any) -> dict[str, np.ndarray]:
    writer = writer_of(store)
    return writer.read(writer.all_ids())


def assert_vectors(store: Any, expected: dict[str, np.ndarray], atol: float = 0.0) -> None:
    """The store holds exactly these ids with these vectors (bit for bit when ``atol=0``)."""
    now = vectors(store)
    assert set(now) == set(expected)
    for i, vec in now.items():
        if atol:
            np.testing.assert_allclose(vec, expected[i], rtol=0, atol=atol)
        else:
            np.testing.assert_array_equal(vec, expected[i])


def hit_id(doc: Document, by_text: Callable[[], dict[str, str]]) -> str:
    """The id of a search hit (Milvus and Qdrant put it in the metadata, not ``doc.id``;
    LanceDB's hits carry none, so they are matched by their text, unique in the corpus)."""
    found = doc.id or doc.metadata.get("pk") or doc.metadata.get("_id")
    return str(found) if found else by_text()[doc.page_content]


def agreement(store: Any, fitter: NudgeFitter, questions: list[str]) -> float:
    retriever = fitter.as_retriever(k=1)
    texts: dict[str, str] = {}

    def by_text() -> dict[str, str]:
        if not texts:
            docs = documents(store)
            texts.update({d.page_content: str(d.id) for d in docs})
            assert len(texts) == len(docs)  # the texts tell the documents apart
        return texts

    same = [
        hit_id(store.similarity_search(q, k=1)[0], by_text) == str(retriever.invoke(q)[0].id)
        for q in questions
    ]
    return sum(same) / len(same)


def check_swap_and_revert(store: Any, fitter: NudgeFitter, questions: list[str]) -> None:
    base = vectors(store)
    assert set(base) == set(fitter.ids_)
    before = agreement(store, fitter, questions)
    written = fitter.swap_in(store)
    assert written and sorted(written) == sorted(str(i) for i in fitter.result_.moved_ids)
    nudged = dict(zip(fitter.ids_, fitter.nudged_matrix(), strict=True))
    after = vectors(store)
    assert set(after) == set(base)
    moved = set(written)
    for i, vec in after.items():
        np.testing.assert_allclose(vec, nudged[i] if i in moved else base[i], atol=1e-5)
    # the store's own search now serves the nudged ranking (HNSW may be approximate);
    # on this corpus the base ranking disagrees with it on a few test queries
    after = agreement(store, fitter, questions)
    assert after >= 0.95 and after > before
    assert sorted(fitter.revert(store)) == sorted(written)
    for i, vec in vectors(store).items():
        np.testing.assert_allclose(vec, base[i], atol=1e-5)


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("kind", slow_for(KINDS))
def test_fit_swap_search_revert(
    kind: str, corpus: Callable[..., Any], embeddings: HashEmbeddings
) -> None:
    store, docs, pairs = corpus(kind, False)
    calls = embeddings.document_calls
    fitter = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"))
    assert embeddings.document_calls == calls  # the store's vectors were reused
    assert not any("re-embedded" in n for n in fitter.notes_)
    loaded = documents(store)
    assert {d.id: (d.page_content, d.metadata) for d in loaded} == {
        d.id: (d.page_content, d.metadata) for d in docs
    }
    text = {d.id: d.page_content for d in docs}
    for i, row in zip(fitter.ids_, fitter.base_vectors_, strict=True):
        np.testing.assert_allclose(row, hash_embed(text[i]), atol=1e-5)
    check_swap_and_revert(store, fitter, [q for q, _ in pairs("test")])


@pytest.mark.parametrize("kind", slow_for(KINDS))
def test_nudge_m_goes_into_inner_product_stores(
    kind: str, corpus: Callable[..., Any], embeddings: HashEmbeddings
) -> None:
    store, _, pairs = corpus(kind, True)
    assert writer_of(store).similarity == "dot"
    fitter = NudgeFitter(embeddings, variant="M").fit(store, pairs("train"), val=pairs("val"))
    check_swap_and_revert(store, fitter, [q for q, _ in pairs("test")])


@pytest.mark.parametrize("kind", slow_for(KINDS))
def test_nudge_m_refused_by_other_metrics(
    kind: str, corpus: Callable[..., Any], embeddings: HashEmbeddings
) -> None:
    store, _, pairs = corpus(kind, False)
    assert writer_of(store).similarity in ("cosine", "l2")
    before = vectors(store)
    fitter = NudgeFitter(embeddings, variant="M").fit(store, pairs("train"))
    with pytest.raises(MetricMismatchError, match=f"{type(store).__name__} ranks by"):
        fitter.swap_in(store)
    assert_vectors(store, before)


def test_faiss_similarity_follows_distance_strategy(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    faiss = need("faiss")
    mod = need("langchain_community.vectorstores")
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores.utils import DistanceStrategy as Strategy

    docs = qa["docs"][:3]
    made = {
        (Strategy.MAX_INNER_PRODUCT, False): "dot",
        (Strategy.DOT_PRODUCT, False): "l2",  # from_documents builds an L2 index for it
        (Strategy.EUCLIDEAN_DISTANCE, False): "l2",
        (Strategy.EUCLIDEAN_DISTANCE, True): "cosine",
        (Strategy.COSINE, False): "cosine",
    }
    for (strategy, normalize), expect in made.items():
        store = mod.FAISS.from_documents(
            docs, embeddings, distance_strategy=strategy, normalize_L2=normalize
        )
        assert writer_of(store).similarity == expect, (strategy, normalize)
    # the index decides the ranking: an L2 index is not inner product whatever the
    # strategy says, and an inner-product index whose scores are read as distances is
    # ambiguous (NUDGE-M refused)
    for index, strategy, expect in [
        (faiss.IndexFlatL2(64), Strategy.MAX_INNER_PRODUCT, "l2"),
        (faiss.IndexFlatIP(64), Strategy.EUCLIDEAN_DISTANCE, None),
        (faiss.IndexFlatIP(64), Strategy.DOT_PRODUCT, "dot"),
        (faiss.IndexFlatIP(64), Strategy.COSINE, "cosine"),
    ]:
        store = mod.FAISS(embeddings, index, InMemoryDocstore(), {}, distance_strategy=strategy)
        store.add_documents(docs)
        assert writer_of(store).similarity == expect, (index, strategy)
