"""A LlamaIndex store-native fit on an approximate index (Chroma's HNSW) reports the
store's recall in ``result_.notes``; on an exact FAISS flat index it makes no recall
pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nudge_integrations.llama_index import NudgeFinetuneEngine

from .conftest import HashEmbedding
from .test_stores import build, data  # noqa: F401


@pytest.mark.parametrize("kind", ["chroma", "faiss"])
def test_native_engine_reports_the_store_recall(
    kind: str,
    build: Callable[..., Any],  # noqa: F811
    embed_model: HashEmbedding,
) -> None:
    index, qa = build(kind, "ip")
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=index, val_dataset=qa["val"], native=True
    )
    eng.finetune()
    assert eng.result_ is not None
    notes = [n for n in eng.result_.notes if "approximate index" in n]
    if kind == "faiss":
        assert notes == [] and eng.index_recall_ is None
        return
    assert len(notes) == 1
    n_val = len(qa["val"])
    assert f"on {min(100, n_val)} of {n_val} validation queries" in notes[0]
    assert "recall@1 " in notes[0] and "exact scan of the" in notes[0]
    assert eng.index_recall_ is not None and f"recall@1 {eng.index_recall_:.3f}" in notes[0]


def test_recall_sample_zero_skips_the_pass(
    build: Callable[..., Any],  # noqa: F811
    embed_model: HashEmbedding,
) -> None:
    index, qa = build("chroma", "ip")
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=index, val_dataset=qa["val"], native=True, recall_sample=0
    )
    eng.finetune()
    assert eng.result_ is not None and eng.index_recall_ is None
    assert any("not measured: recall_sample=0" in n for n in eng.result_.notes)
