"""A LangChain store-native fit on an approximate index (Chroma's HNSW) reports the
store's recall in ``notes_``; on an exact FAISS flat index it makes no recall pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nudge_integrations.langchain import NudgeFitter

from .conftest import HashEmbeddings
from .test_stores import corpus, milvus_client_alias  # noqa: F401


@pytest.mark.parametrize("kind", ["chroma", "faiss"])
def test_native_fit_reports_the_store_recall(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    store, _, pairs = corpus(kind, False)
    fitter = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"), native=True)
    notes = [n for n in fitter.notes_ if "approximate index" in n]
    if kind == "faiss":
        assert notes == [] and fitter.index_recall_ is None
        return
    assert len(notes) == 1
    n_val = len(pairs("val"))
    assert f"on {min(100, n_val)} of {n_val} validation queries" in notes[0]
    assert "recall@1 " in notes[0] and "exact scan of the" in notes[0]
    assert fitter.index_recall_ is not None and 0 <= fitter.index_recall_ <= 1
    assert f"recall@1 {fitter.index_recall_:.3f}" in notes[0]


def test_recall_sample_zero_skips_the_pass_and_the_value_survives_save(
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
    tmp_path: Any,
) -> None:
    store, _, pairs = corpus("chroma", False)
    off = NudgeFitter(embeddings).fit(
        store, pairs("train"), val=pairs("val"), native=True, recall_sample=0
    )
    assert off.index_recall_ is None
    assert any("not measured: recall_sample=0" in n for n in off.notes_)
    on = NudgeFitter(embeddings).fit(
        store, pairs("train"), val=pairs("val"), native=True, recall_sample=3
    )
    assert on.index_recall_ is not None
    assert any("on 3 of" in n for n in on.notes_)
    loaded = NudgeFitter.load(on.save(tmp_path / "fit"), embeddings)
    assert loaded.index_recall_ == on.index_recall_
