"""Real vector stores: fit from the store's vectors, swap in, retrieve, revert, persist.
The same checks run on FAISS, Chroma (embedded and a local server), Milvus Lite, Qdrant
local mode, LanceDB (a local folder) and PGVectorStore (a real PostgreSQL + pgvector
server); store-specific behaviour (reopening in a new process, hybrid Qdrant, rollback,
...) is tested in the stores' own files."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex

from nudge_integrations.core.errors import MetricMismatchError
from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.stores import registry

from ..optional import need
from ..pg_server import driver_url
from ..tiers import slow_for
from .conftest import HashEmbedding
from .test_stores_qdrant_lancedb import assert_serves_nudged, lancedb_store, qdrant_store, uuid_qa

_names = itertools.count()


def faiss_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    faiss = need("faiss")
    mod = need("llama_index.vector_stores.faiss")
    index = faiss.IndexFlatIP(64) if metric == "ip" else faiss.IndexFlatL2(64)
    return mod.FaissVectorStore(faiss_index=index)


def chroma_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    chromadb = need("chromadb")
    mod = need("llama_index.vector_stores.chroma")
    client = chromadb.EphemeralClient()
    col = client.create_collection(f"nudge{next(_names)}", metadata={"hnsw:space": metric})
    return mod.ChromaVectorStore(chroma_collection=col)


def chroma_server_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    """A collection on a local ``chroma run`` server (its ledger is keyed by the address)."""
    mod = need("llama_index.vector_stores.chroma")
    client = request.getfixturevalue("chroma_server")
    col = client.create_collection(f"nudge{next(_names)}", metadata={"hnsw:space": metric})
    return mod.ChromaVectorStore(chroma_collection=col)


def milvus_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    need("milvus_lite")
    mod = need("llama_index.vector_stores.milvus")
    return mod.MilvusVectorStore(
        uri=str(tmp / "milvus.db"),
        dim=64,
        overwrite=True,
        similarity_metric="IP" if metric == "ip" else "COSINE",
    )


def pgvector_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    """PGVectorStore in a fresh database; it ranks by cosine whatever ``metric`` asks."""
    pg = need("llama_index.vector_stores.postgres")
    url = request.getfixturevalue("pg_url")
    store = pg.PGVectorStore(
        connection_string=driver_url(url, "psycopg2"),
        async_connection_string=driver_url(url, "asyncpg"),
        table_name=f"nudge{next(_names)}",
        embed_dim=64,
    )
    request.addfinalizer(lambda: store._engine and store._engine.dispose())
    return store


STORES: dict[str, Callable[[str, Path, pytest.FixtureRequest], Any]] = {
    "faiss": faiss_store,
    "chroma": chroma_store,
    "chroma-server": chroma_server_store,
    "milvus": milvus_store,
    "qdrant": qdrant_store,
    "lancedb": lancedb_store,
    "pgvector": pgvector_store,
}
#: Stores that can rank by inner product, which NUDGE-M vectors need. PGVectorStore
#: always orders by cosine distance (even over an inner-product HNSW index), so it runs
#: the refusal check below instead.
INNER_PRODUCT = sorted(k for k in STORES if k != "pgvector")
#: Each store with a metric other than inner product, for the refusal check.
OTHER_METRIC = {
    "faiss": "l2",
    "chroma": "cosine",
    "chroma-server": "cosine",
    "milvus": "cosine",
    "qdrant": "cosine",
    "lancedb": "l2",
    "pgvector": "cosine",
}
assert sorted(OTHER_METRIC) == sorted(STORES)


@pytest.fixture(scope="module")
def data(qa: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """``data(kind)``: the nodes and QA splits for a store; Qdrant's node ids must be
    UUIDs, so it gets UUID ids (the QA splits follow)."""
    with_uuids = uuid_qa(qa)
    return lambda kind: with_uuids if kind == "qdrant" else qa


@pytest.fixture
def build(
    data: Callable[[str], dict[str, Any]],
    embed_model: HashEmbedding,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Any]]:
    """``make(kind, metric)``: (an index over the corpus, its nodes and QA splits). LanceDB
    ranks by its vector index's metric (``l2`` without one), so ``ip`` / ``cosine`` give it
    an index of that metric (``dot`` for ``ip``)."""

    def make(kind: str, metric: str) -> tuple[VectorStoreIndex, dict[str, Any]]:
        store = STORES[kind](metric, tmp_path, request)
        ctx = StorageContext.from_defaults(vector_store=store)
        qa = data(kind)
        index = VectorStoreIndex(qa["nodes"], storage_context=ctx, embed_model=embed_model)
        if kind == "lancedb" and metric != "l2":
            from lancedb.index import IvfFlat

            distance = "dot" if metric == "ip" else metric
            config = IvfFlat(distance_type=distance, num_partitions=2)  # type: ignore[arg-type]
            store.table.create_index("vector", config=config)
        return index, qa

    yield make


def store_vectors(index: VectorStoreIndex, ids: list[str]) -> dict[str, np.ndarray]:
    return registry.bind(index.vector_store, "llama_index", index=index).writer.read(ids)


def similarity(index: VectorStoreIndex) -> str | None:
    """What the store ranks by, as the writer sees it."""
    return registry.bind(index.vector_store, "llama_index", index=index).writer.similarity


@pytest.mark.parametrize("kind", slow_for(sorted(STORES)))
def test_nudge_n_round_trip(
    kind: str, build: Callable[..., Any], embed_model: HashEmbedding, tmp_path: Path
) -> None:
    index, qa = build(kind, "ip")
    ids = [n.node_id for n in qa["nodes"]]
    base = store_vectors(index, ids)
    assert len(base) == len(ids)
    calls = embed_model.text_calls
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    assert embed_model.text_calls == calls, "vectors already in the store must be reused"
    assert sorted(eng.node_ids) == sorted(ids)
    written = eng.apply_to_index(index)
    assert written
    nudged = eng.get_finetuned_corpus_embeddings()
    now = store_vectors(index, ids)
    for nid in ids:
        expect = nudged[nid] if nid in written else base[nid]
        np.testing.assert_allclose(now[nid], expect, atol=1e-6)
    # the store now serves the nudged ranking, nodes unchanged
    assert_serves_nudged(index, eng, qa, qa["test"].queries[qa["test"].query_ids[0]])
    # persist, reload, revert through the reloaded engine
    eng.persist(tmp_path / "engine")
    back = NudgeFinetuneEngine.from_persist_dir(tmp_path / "engine", embed_model)
    back.revert_index(index)
    restored = store_vectors(index, ids)
    for nid in ids:
        np.testing.assert_allclose(restored[nid], base[nid], atol=1e-6)


@pytest.mark.parametrize("kind", slow_for(INNER_PRODUCT))
def test_nudge_m_goes_into_inner_product_stores(
    kind: str, build: Callable[..., Any], embed_model: HashEmbedding
) -> None:
    index, qa = build(kind, "ip")
    assert similarity(index) == "dot"
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=index, val_dataset=qa["val"], variant="M"
    )
    eng.finetune()
    written = eng.apply_to_index(index)
    now = store_vectors(index, written)
    nudged = eng.get_finetuned_corpus_embeddings()
    for nid in written:
        np.testing.assert_allclose(now[nid], nudged[nid], atol=1e-6)
    eng.revert_index(index)


@pytest.mark.parametrize("kind,metric", slow_for(sorted(OTHER_METRIC.items())))
def test_nudge_m_refused_by_non_inner_product_stores(
    kind: str, metric: str, build: Callable[..., Any], embed_model: HashEmbedding
) -> None:
    index, qa = build(kind, metric)
    assert similarity(index) == metric
    ids = [n.node_id for n in qa["nodes"]]
    before = store_vectors(index, ids)
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=index, val_dataset=qa["val"], variant="M"
    )
    eng.finetune()
    with pytest.raises(MetricMismatchError, match=f"inner product, but .* ranks by {metric}"):
        eng.apply_to_index(index)
    after = store_vectors(index, ids)
    for nid in ids:
        np.testing.assert_array_equal(after[nid], before[nid])
