"""LlamaIndex ``PGVectorStore`` on a real PostgreSQL + pgvector server: fit from the
stored vectors, swap in, retrieve through the index's own retriever, revert bit for bit;
NUDGE-M refused (the store always ranks by cosine); a failed batch rolls back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex

from nudge_integrations.core.errors import MetricMismatchError, NudgeError
from nudge_integrations.llama_index import NudgeFinetuneEngine, status
from nudge_integrations.stores import PgVectorWriter, registry
from nudge_integrations.stores.base import MARKER
from nudge_integrations.stores.lifecycle import read_markers

from ..optional import need
from ..pg_server import driver_url
from ..write_requests import watch
from .conftest import HashEmbedding
from .test_stores_qdrant_lancedb import assert_serves_nudged

pg = need("llama_index.vector_stores.postgres")
_tables = itertools.count()


@pytest.fixture
def build(
    pg_url: str, qa: dict[str, Any], embed_model: HashEmbedding, request: pytest.FixtureRequest
) -> Callable[..., VectorStoreIndex]:
    def make(**kwargs: Any) -> VectorStoreIndex:
        store = pg.PGVectorStore(
            connection_string=driver_url(pg_url, "psycopg2"),
            async_connection_string=driver_url(pg_url, "asyncpg"),
            table_name=f"nudge{next(_tables)}",
            embed_dim=qa["dim"],
            **kwargs,
        )
        ctx = StorageContext.from_defaults(vector_store=store)
        index = VectorStoreIndex(qa["nodes"], storage_context=ctx, embed_model=embed_model)
        request.addfinalizer(store._engine.dispose)
        return index

    return make


def stored(index: VectorStoreIndex) -> dict[str, np.ndarray]:
    writer = registry.bind(index.vector_store, "llama_index").writer
    return writer.read(writer.all_ids())


def test_fit_swap_retrieve_revert(
    build: Callable[..., VectorStoreIndex], qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = build()
    writer = registry.bind(index.vector_store, "llama_index").writer
    assert writer.similarity == "cosine"
    ids = [n.node_id for n in qa["nodes"]]
    base = stored(index)
    assert sorted(base) == sorted(ids)
    calls = embed_model.text_calls
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    assert embed_model.text_calls == calls, "vectors already in the store must be reused"
    written = eng.apply_to_index(index)
    assert written
    nudged = eng.get_finetuned_corpus_embeddings()
    now = stored(index)
    for nid in ids:  # pgvector keeps float32 as given: exact
        np.testing.assert_array_equal(now[nid], nudged[nid] if nid in written else base[nid])
    assert status(index).state == "nudged"
    assert set(writer.read_markers(ids)) == set(written)
    # the store's own retriever serves the nudged ranking; nodes come back unchanged
    node = assert_serves_nudged(index, eng, qa, qa["test"].queries[qa["test"].query_ids[0]])
    assert MARKER not in node.metadata
    eng.revert_index(index)
    restored = stored(index)
    for nid in ids:
        np.testing.assert_array_equal(restored[nid], base[nid])
    assert not writer.read_markers(ids)
    assert status(index).state == "base"


@pytest.mark.parametrize("hnsw", [None, "vector_ip_ops"])
def test_nudge_m_refused_whatever_the_index(
    hnsw: str | None,
    build: Callable[..., VectorStoreIndex],
    qa: dict[str, Any],
    embed_model: HashEmbedding,
) -> None:
    # PGVectorStore orders by cosine distance (<=>) even over an inner-product HNSW index
    kwargs = {}
    if hnsw:
        kwargs["hnsw_kwargs"] = {
            "hnsw_m": 16,
            "hnsw_ef_construction": 64,
            "hnsw_ef_search": 40,
            "hnsw_dist_method": hnsw,
        }
    index = build(**kwargs)
    before = stored(index)
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=index, val_dataset=qa["val"], variant="M"
    )
    eng.finetune()
    with pytest.raises(MetricMismatchError, match="PGVectorStore ranks by cosine"):
        eng.apply_to_index(index)
    after = stored(index)
    assert set(after) == set(before)
    for nid, vec in after.items():
        np.testing.assert_array_equal(vec, before[nid])


def test_a_failed_batch_rolls_back(
    build: Callable[..., VectorStoreIndex],
    qa: dict[str, Any],
    embed_model: HashEmbedding,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = build()
    writer = registry.bind(index.vector_store, "llama_index").writer
    base = stored(index)
    a, b = sorted(base)[:2]
    # one transaction per batch: a bad vector in it leaves its good ones unwritten
    with pytest.raises(Exception, match="dimensions"):
        writer.write({a: base[a] + 1, b: np.ones(3, np.float32)})
    np.testing.assert_array_equal(writer.read([a])[a], base[a])
    # the third batch of a swap fails inside PostgreSQL, in its one UPDATE of vectors and
    # markers together: nothing of it lands, and the two before are rolled back
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    seen = watch(type(writer), monkeypatch)  # every write request, the rollback's too
    real, calls = type(writer)._write_together, {"n": 0}

    def third_batch_breaks(self: Any, vectors: dict[str, np.ndarray], marks: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            vectors = {**vectors, next(iter(vectors)): np.ones(3, np.float32)}
        real(self, vectors, marks)

    monkeypatch.setattr(type(writer), "_write_together", third_batch_breaks)
    with pytest.raises(Exception, match="dimensions"):
        eng.apply_to_index(index, batch_size=5)
    assert calls["n"] == 3 and len(seen.vector_writes()) > 3  # the rollback wrote too
    after = stored(index)
    for nid, vec in after.items():
        np.testing.assert_array_equal(vec, base[nid])
    assert read_markers(writer, list(base)) == {}
    assert status(index).state == "base"


def test_only_float32_vector_columns_are_written(pg_url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(driver_url(pg_url, "psycopg"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE arrays (id text, embedding real[])")
    with pytest.raises(NudgeError, match="halfvec would round"):
        PgVectorWriter(engine, "arrays", id_column="id", vector_column="embedding")
    with pytest.raises(NudgeError, match="does not exist"):
        PgVectorWriter(engine, "absent", id_column="id", vector_column="embedding")
    engine.dispose()
