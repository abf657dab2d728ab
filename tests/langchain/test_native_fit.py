"""Store-native fits (``NudgeFitter.fit(store, ..., native=True)``) on real stores: only
the named documents are read, competitors come from the store's own search, and the
result equals the in-memory fit's; swap, revert and a refit go through the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nudge_integrations.core.errors import MetricMismatchError, NudgeError, UnknownIdError
from nudge_integrations.langchain import NudgeFitter
from nudge_integrations.stores import registry

from ..same_fit import assert_same_fit
from ..tiers import slow_for
from .conftest import HashEmbeddings
from .stored import writer_of
from .test_stores import (  # noqa: F401
    assert_vectors,
    corpus,
    milvus_client_alias,
    vectors,
)

NATIVE = ["faiss", "chroma", "chroma-server", "milvus", "qdrant", "lancedb", "pgvector"]


def _no_bulk_reads(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading the whole store, or listing its ids, fail the test."""
    binding = registry.entry_for(store, "langchain").binding("langchain")
    real_bind = binding.bind

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("a store-native fit read the whole store")

    def bind(obj: Any) -> Any:
        bound = real_bind(obj)
        bound.records = boom
        return bound

    monkeypatch.setattr(binding, "bind", bind)
    monkeypatch.setattr(type(writer_of(store)), "all_ids", boom)


def _same(a: NudgeFitter, b: NudgeFitter) -> None:
    assert a.result_ is not None and b.result_ is not None
    assert_same_fit(a.result_, b.result_)


@pytest.mark.parametrize("kind", slow_for(NATIVE))
def test_native_fit_equals_in_memory_and_swaps(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, _, pairs = corpus(kind, False)
    memory = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"))
    base = vectors(store)
    with monkeypatch.context() as m:
        _no_bulk_reads(store, m)
        native = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"), native=True)
        _same(memory, native)
        assert native.result_.n_records == len(base)
        assert len(native.ids_) < len(base)  # only the named documents were read
        with pytest.raises(NudgeError, match="store-native"):
            native.as_retriever()
        written = native.swap_in(store)
    assert sorted(written) == sorted(map(str, native.result_.moved_ids))
    after = vectors(store)
    for i, vec in after.items():
        want = native.result_.vector(i) if i in set(written) else base[i]
        np.testing.assert_allclose(vec, want, atol=1e-5)
    # a refit on the nudged store competes against the base vectors from the ledger
    with monkeypatch.context() as m:
        _no_bulk_reads(store, m)
        again = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"), native=True)
    _same(memory, again)
    native.revert(store)
    for i, vec in vectors(store).items():
        np.testing.assert_allclose(vec, base[i], atol=1e-5)


@pytest.mark.parametrize("kind", ["faiss", "qdrant"])
def test_native_nudge_m_on_inner_product_stores(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    store, _, pairs = corpus(kind, True)
    memory = NudgeFitter(embeddings, variant="M").fit(store, pairs("train"), val=pairs("val"))
    native = NudgeFitter(embeddings, variant="M").fit(
        store, pairs("train"), val=pairs("val"), native=True
    )
    _same(memory, native)
    native.swap_in(store)
    native.revert(store)


def test_native_fit_without_validation_set_splits_like_in_memory(
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    store, _, pairs = corpus("faiss", False)
    memory = NudgeFitter(embeddings).fit(store, pairs("train"))
    native = NudgeFitter(embeddings).fit(store, pairs("train"), native=True)
    _same(memory, native)


def test_native_fit_bad_input(
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    store, docs, pairs = corpus("faiss", False)
    fitter = NudgeFitter(embeddings)
    with pytest.raises(UnknownIdError, match="no-such-doc"):
        fitter.fit(store, [*pairs("train"), ("a question", ["no-such-doc"])], native=True)
    with pytest.raises(NudgeError, match="vector store"):
        fitter.fit(docs, pairs("train"), native=True)
    with pytest.raises(NudgeError, match="id_key"):
        fitter.fit(store, pairs("train"), native=True, id_key="source")


def test_native_fit_refuses_a_record_without_a_stored_vector(
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    """A PGVector row whose embedding is NULL: held by the store, but no vector to read."""
    store, _, pairs = corpus("pgvector", False)
    writer = writer_of(store)
    named = pairs("train")[0][1][0]
    with writer.engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE {writer.table} SET {writer.vector} = NULL WHERE {writer.id} = %s", (named,)
        )
    with pytest.raises(NudgeError, match=f"holds document '{named}' but returns no vector"):
        NudgeFitter(embeddings).fit(store, pairs("train"), native=True)


@pytest.mark.parametrize("kind", ["chroma", "qdrant"])
def test_native_nudge_m_refused_by_cosine_stores(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    store, _, pairs = corpus(kind, False)
    before = vectors(store)
    fitter = NudgeFitter(embeddings, variant="M").fit(store, pairs("train"), native=True)
    with pytest.raises(MetricMismatchError, match=f"{type(store).__name__} ranks by cosine"):
        fitter.swap_in(store)
    assert_vectors(store, before, atol=1e-6)  # Qdrant local mode: 1 ulp after a search


def test_fit_store_reads_bases_from_the_ledger_and_status_of_a_fresh_store(
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    """The core-level ``fit_store`` on a store writer goes through its ledger like the
    adapters do; a store never nudged reports ``base`` (no ledger) rather than raising."""
    from nudge_integrations.core import NudgeN
    from nudge_integrations.langchain import status
    from nudge_integrations.stores.native_fit import fit_store

    store, _, pairs = corpus("qdrant", False)
    fresh = status(store)
    assert fresh.state == "base" and fresh.ledger is None and "no nudge ledger" in str(fresh)
    first = NudgeFitter(embeddings, refit_with_validation=False).fit(
        store, pairs("train"), val=pairs("val"), native=True
    )
    first.swap_in(store)
    writer = writer_of(store)
    ds = {split: pairs(split) for split in ("train", "val")}
    q = {s: np.asarray([embeddings.embed_query(t) for t, _ in ds[s]], np.float32) for s in ds}
    rel = {s: [list(r) for _, r in ds[s]] for s in ds}
    again = fit_store(NudgeN(), writer, q["train"], rel["train"], q["val"], rel["val"])
    assert_same_fit(first.result_, again.result_)
    assert any("nudge ledger" in note for note in again.result_.notes)


def test_native_fit_on_an_in_memory_store(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    """``InMemoryVectorStore`` serves its own cosine search to a store-native fit."""
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"])
    memory = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    native = NudgeFitter(embeddings).fit(
        store, qa["pairs"]("train"), val=qa["pairs"]("val"), native=True
    )
    _same(memory, native)


@pytest.mark.parametrize("kind", ["faiss", "chroma"])
def test_native_fit_reads_the_documents_questions_name_not_a_datasets_corpus(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A QA dataset (paper_split, generated QA) carries its whole corpus beside the
    questions; a store-native fit reads only the documents the questions name, and a
    corpus entry no question names (here one the store does not even hold) is ignored."""
    from nudge_integrations.data.dataset import QADataset

    store, docs, pairs = corpus(kind, False)

    def dataset(split: str) -> QADataset:
        items = pairs(split)
        return QADataset(
            queries={f"{split}{i}": q for i, (q, _) in enumerate(items)},
            corpus={**{str(d.id): d.page_content for d in docs}, "ghost": "never stored"},
            relevant_docs={f"{split}{i}": list(rel) for i, (_, rel) in enumerate(items)},
        )

    named = {i for split in ("train", "val") for _, rel in pairs(split) for i in rel}
    by_pairs = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"), native=True)
    with monkeypatch.context() as m:
        _no_bulk_reads(store, m)
        by_dataset = NudgeFitter(embeddings).fit(
            store, dataset("train"), val=dataset("val"), native=True
        )
    assert set(by_dataset.ids_) == named and len(named) < len(docs)
    _same(by_pairs, by_dataset)
    if kind == "chroma":  # competitors outside the named documents: recall measured
        assert by_dataset.index_recall_ is not None


@pytest.mark.parametrize("kind", ["lancedb", "pgvector"])
def test_native_fit_streams_a_store_whose_search_is_a_scan(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pgvector and LanceDB scan the table for each exact search: from SCAN_SEARCH_FROM
    validation queries the fit streams the table once instead, with the same result."""
    from nudge_integrations.core import sources

    store, _, pairs = corpus(kind, False)
    memory = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"))
    cls = type(writer_of(store))
    scans: list[int] = []
    real_scan = cls.scan

    def scan(self: Any, batch: int) -> Any:
        scans.append(batch)
        return real_scan(self, batch)

    def no_search(*_: Any, **__: Any) -> Any:
        raise AssertionError("searched the store once per query")

    monkeypatch.setattr(sources, "SCAN_SEARCH_FROM", 1)
    monkeypatch.setattr(cls, "scan", scan)
    monkeypatch.setattr(cls, "nearest", no_search)
    monkeypatch.setattr(cls, "nearest_outside", no_search, raising=False)
    native = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"), native=True)
    _same(memory, native)
    assert scans
