"""NUDGE-M refused by a cosine store: after a store-native fit the error suggests what
works for that engine (NUDGE-N, an inner-product store, or an engine without
native=True), not ``as_retriever()``, which a native engine refuses; after an in-memory
fit the old advice (``as_retriever()``) stands, and works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nudge_integrations.core.errors import MetricMismatchError, NudgeError
from nudge_integrations.llama_index import NudgeFinetuneEngine

from .conftest import HashEmbedding
from .test_stores import build, data, store_vectors  # noqa: F401


@pytest.mark.parametrize("kind", ["chroma", "qdrant"])
def test_native_nudge_m_refusal_suggests_what_works(
    kind: str,
    build: Callable[..., Any],  # noqa: F811
    embed_model: HashEmbedding,
) -> None:
    index, qa = build(kind, "cosine")
    ids = [n.node_id for n in qa["nodes"]]
    before = store_vectors(index, ids)

    def engine(**kw: Any) -> NudgeFinetuneEngine:
        eng = NudgeFinetuneEngine(
            qa["train"], embed_model, corpus=index, val_dataset=qa["val"], **kw
        )
        eng.finetune()
        return eng

    native = engine(variant="M", native=True)
    with pytest.raises(MetricMismatchError) as refused:
        native.apply_to_index(index)
    message = str(refused.value)
    assert f"{type(index.vector_store).__name__} ranks by cosine" in message
    assert "This engine was fitted store-native" in message
    assert "variant='N'" in message
    assert "Chroma hnsw:space 'ip'" in message and "Qdrant Distance.DOT" in message
    assert "without native=True and serve with engine.as_retriever()" in message
    assert "inner-product retriever (as_retriever())" not in message  # the non-native advice
    with pytest.raises(NudgeError, match="NUDGE-M only from a store that ranks by inner"):
        native.as_retriever()  # which is why the refusal does not suggest it
    after = store_vectors(index, ids)
    for nid in ids:
        np.testing.assert_allclose(after[nid], before[nid], rtol=0, atol=1e-6)

    # the suggestions work: NUDGE-N natively into this index ...
    n_eng = engine(native=True)
    assert n_eng.apply_to_index(index).written
    n_eng.revert_index(index)
    # ... and NUDGE-M fitted in memory, served by its own retriever; its refusal keeps the
    # in-memory advice
    memory = engine(variant="M")
    with pytest.raises(MetricMismatchError, match=r"inner-product retriever \(as_retriever\(\)\)"):
        memory.apply_to_index(index)
    assert memory.as_retriever(similarity_top_k=1).retrieve(
        qa["test"].queries[qa["test"].query_ids[0]]
    )
