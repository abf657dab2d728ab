"""LangChain ``PGVector`` (langchain-postgres) on a real PostgreSQL + pgvector server: read
documents and vectors, fit without re-embedding, swap, search through the store's own
``similarity_search``, revert bit for bit; NUDGE-M refused by the cosine and l2 strategies;
a failed batch rolls back. NUDGE-M into a MAX_INNER_PRODUCT store runs in test_stores.py
with the other stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from nudge_integrations.core.errors import MetricMismatchError, NudgeError
from nudge_integrations.langchain import NudgeFitter, status
from nudge_integrations.stores import registry
from nudge_integrations.stores.base import MARKER
from nudge_integrations.stores.lifecycle import read_markers
from nudge_integrations.stores.pgvector import writer as pgvector_writer

from ..optional import need
from ..pg_server import driver_url
from ..write_requests import watch
from .conftest import HashEmbeddings
from .stored import documents, writer_of
from .test_stores import assert_vectors, check_swap_and_revert, vectors

lc_pg = need("langchain_postgres")
from langchain_postgres.vectorstores import DistanceStrategy  # noqa: E402

STRATEGIES = {
    "inner": DistanceStrategy.MAX_INNER_PRODUCT,
    "cosine": DistanceStrategy.COSINE,
    "l2": DistanceStrategy.EUCLIDEAN,
}


@pytest.fixture
def build(
    pg_url: str, qa: dict[str, Any], embeddings: HashEmbeddings, request: pytest.FixtureRequest
) -> Callable[..., Any]:
    def make(strategy: str, name: str = "docs") -> Any:
        store = lc_pg.PGVector(
            embeddings,
            connection=driver_url(pg_url, "psycopg"),
            collection_name=name,
            distance_strategy=STRATEGIES[strategy],
            embedding_length=qa["dim"],
        )
        request.addfinalizer(store._engine.dispose)
        docs: list[Document] = qa["docs"]
        store.add_documents(docs, ids=[d.id for d in docs])
        return store

    return make


def test_fit_swap_search_revert(
    build: Callable[..., Any],
    qa: dict[str, Any],
    embeddings: HashEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = build("cosine")
    docs: list[Document] = qa["docs"]
    monkeypatch.setattr(pgvector_writer, "READ_IDS", 7)  # load pages through the table by id
    loaded = documents(store)
    assert len(loaded) == len(docs)
    assert {d.id: (d.page_content, d.metadata) for d in loaded} == {
        d.id: (d.page_content, d.metadata) for d in docs
    }
    calls = embeddings.document_calls
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    assert embeddings.document_calls == calls  # the store's vectors were reused
    base = vectors(store)
    writer = writer_of(store)
    questions = [q for q, _ in qa["pairs"]("test")]
    # swap, search, revert (tolerance 1e-5 there; exact here)
    check_swap_and_revert(store, fitter, questions)
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, base[i])
    written = list(fitter.swap_in(store))
    nudged = dict(zip(fitter.ids_, fitter.nudged_matrix(), strict=True))
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, nudged[i] if i in set(written) else base[i])
    assert status(store).state == "nudged"
    assert set(writer.read_markers(list(base))) == set(written)  # in cmetadata (JSONB)
    assert all(MARKER not in d.metadata for d in documents(store))
    text = {d.id: d.page_content for d in docs}
    assert registry.bind(store, "langchain").texts(written[:2]) == {i: text[i] for i in written[:2]}
    fitter.revert(store)
    assert not writer.read_markers(list(base))
    assert status(store).state == "base"


@pytest.mark.parametrize("strategy", ["cosine", "l2"])
def test_nudge_m_refused_by_other_strategies(
    strategy: str, build: Callable[..., Any], qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = build(strategy)
    assert writer_of(store).similarity == strategy
    before = vectors(store)
    fitter = NudgeFitter(embeddings, variant="M").fit(store, qa["pairs"]("train"))
    with pytest.raises(MetricMismatchError, match="PGVector ranks by"):
        fitter.swap_in(store)
    assert_vectors(store, before)


def test_a_failed_batch_rolls_back(
    build: Callable[..., Any],
    qa: dict[str, Any],
    embeddings: HashEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = build("cosine")
    writer = writer_of(store)
    base = vectors(store)
    a, b = sorted(base)[:2]
    # one transaction per batch: a bad vector in it leaves its good ones unwritten
    with pytest.raises(Exception, match="dimensions"):
        writer.write({a: base[a] + 1, b: np.ones(3, np.float32)})
    np.testing.assert_array_equal(writer.read([a])[a], base[a])
    # the third batch of a swap fails inside PostgreSQL, in its one UPDATE of vectors and
    # markers together: nothing of it lands, and the two before are rolled back
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    seen = watch(type(writer), monkeypatch)  # every write request, the rollback's too
    real, calls = type(writer)._write_together, {"n": 0}

    def third_batch_breaks(self: Any, batch: dict[str, np.ndarray], marks: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            batch = {**batch, next(iter(batch)): np.ones(3, np.float32)}
        real(self, batch, marks)

    monkeypatch.setattr(type(writer), "_write_together", third_batch_breaks)
    with pytest.raises(Exception, match="dimensions"):
        fitter.swap_in(store, batch_size=5)
    assert calls["n"] == 3 and len(seen.vector_writes()) > 3  # the rollback wrote too
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, base[i])
    assert read_markers(writer, list(base)) == {}
    assert status(store).state == "base"
    # a record another process deleted: the batch is refused as a whole
    monkeypatch.undo()
    with store._engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM langchain_pg_embedding WHERE id = %s", (b,))
    with pytest.raises(NudgeError, match="1 of 2 records to write are no longer"):
        writer.write({a: base[a] + 1, b: base[b]})
    np.testing.assert_array_equal(writer.read([a])[a], base[a])


def test_collections_are_kept_apart_and_async_stores_refused(
    build: Callable[..., Any], pg_url: str, embeddings: HashEmbeddings
) -> None:
    build("cosine", name="one")
    other = lc_pg.PGVector(
        embeddings, connection=driver_url(pg_url, "psycopg"), collection_name="two"
    )
    other.add_documents([Document(id="x", page_content="other collection")])
    assert writer_of(other).all_ids() == ["x"]
    assert [d.id for d in documents(other)] == ["x"]
    other._engine.dispose()
    lazy = lc_pg.PGVector(
        embeddings, connection=driver_url(pg_url, "psycopg"), collection_name="one", async_mode=True
    )
    with pytest.raises(NudgeError, match="async_mode=True"):
        registry.bind(lazy, "langchain")
