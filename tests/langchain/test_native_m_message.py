"""NUDGE-M refused by a cosine store: after a store-native fit the error suggests what
works for that fit (NUDGE-N, an inner-product store, or a fit without native=True), not
``as_retriever()``, which a native fit refuses; after an in-memory fit the old advice
(``as_retriever()``) stands, and works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from nudge_integrations.core.errors import MetricMismatchError, NudgeError
from nudge_integrations.langchain import NudgeFitter

from .conftest import HashEmbeddings
from .test_stores import corpus, vectors  # noqa: F401


@pytest.mark.parametrize("kind", ["chroma", "qdrant"])
def test_native_nudge_m_refusal_suggests_what_works(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
) -> None:
    store, _, pairs = corpus(kind, False)
    before = vectors(store)
    native = NudgeFitter(embeddings, variant="M").fit(
        store, pairs("train"), val=pairs("val"), native=True
    )
    with pytest.raises(MetricMismatchError) as refused:
        native.swap_in(store)
    message = str(refused.value)
    assert f"{type(store).__name__} ranks by cosine" in message
    assert "This fit was made store-native" in message
    assert "NudgeFitter(variant='N')" in message
    assert "Chroma hnsw:space 'ip'" in message and "Qdrant Distance.DOT" in message
    assert "without native=True and serve with fitter.as_retriever()" in message
    assert "inner-product retriever (as_retriever())" not in message  # the non-native advice
    with pytest.raises(NudgeError, match="NUDGE-M only from a store that ranks by inner"):
        native.as_retriever()  # which is why the refusal does not suggest it
    after = vectors(store)
    for i, vec in after.items():  # Qdrant local mode re-normalises on search: 1 ulp
        np.testing.assert_allclose(vec, before[i], rtol=0, atol=1e-6)

    # the suggestions work: NUDGE-N natively into this store ...
    n_fit = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"), native=True)
    assert n_fit.swap_in(store).written
    n_fit.revert(store)
    # ... and NUDGE-M fitted in memory, served by its own retriever; its refusal keeps the
    # in-memory advice
    memory = NudgeFitter(embeddings, variant="M").fit(store, pairs("train"), val=pairs("val"))
    with pytest.raises(MetricMismatchError, match=r"inner-product retriever \(as_retriever\(\)\)"):
        memory.swap_in(store)
    assert memory.as_retriever(k=1).invoke(pairs("test")[0][0])
