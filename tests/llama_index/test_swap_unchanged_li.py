"""LlamaIndex: applying the same fit to an index again writes no vector and reports its
nodes as unchanged; the ledger names the new fit, status stays ``nudged`` and
revert_index gives the base back. On real stores: Chroma (cosine) and FAISS (inner
product)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.stores import registry

from ..write_requests import watch
from .conftest import HashEmbedding
from .test_stores import build, data, store_vectors  # noqa: F401


@pytest.mark.parametrize(("kind", "metric"), [("chroma", "cosine"), ("faiss", "ip")])
def test_applying_the_same_fit_again_writes_nothing(
    kind: str,
    metric: str,
    build: Callable[..., Any],  # noqa: F811
    embed_model: HashEmbedding,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, qa = build(kind, metric)
    ids = [n.node_id for n in qa["nodes"]]
    base = store_vectors(index, ids)
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    first = eng.apply_to_index(index)
    assert first.written and first.unchanged == []
    moved = sorted(first.written)
    nudged = store_vectors(index, ids)

    writer_type = type(registry.bind(index.vector_store, "llama_index", index=index).writer)
    seen = watch(writer_type, monkeypatch)  # every request that writes vectors
    again = eng.apply_to_index(index)
    monkeypatch.undo()

    assert seen.vector_writes() == []  # not one vector written
    assert again.written == [] and again.restored == [] and len(again) == 0
    assert sorted(again.unchanged) == moved and again.skipped == []
    now = store_vectors(index, ids)
    for nid in ids:
        np.testing.assert_array_equal(now[nid], nudged[nid])
    st = eng.index_status(index)
    assert st.state == "nudged" and sorted(st.nudged) == moved
    back = eng.revert_index(index)
    assert sorted(back.restored) == moved
    restored = store_vectors(index, ids)
    for nid in ids:
        np.testing.assert_allclose(restored[nid], base[nid], rtol=0, atol=1e-6)
