"""A LangChain FAISS store read back with ``FAISS.load_local`` forgets its
``distance_strategy``: NUDGE-M is refused there with the fix (pass it again), and swaps
once it is passed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nudge_integrations.core.errors import MetricMismatchError
from nudge_integrations.langchain import NudgeFitter

from .conftest import HashEmbeddings

pytest.importorskip("faiss")
vectorstores = pytest.importorskip("langchain_community.vectorstores")
utils = pytest.importorskip("langchain_community.vectorstores.utils")


def test_load_local_without_the_strategy_names_the_fix(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    faiss_store, strategy = vectorstores.FAISS, utils.DistanceStrategy
    docs = qa["docs"]
    made = faiss_store.from_documents(
        docs, embeddings, ids=[d.id for d in docs], distance_strategy=strategy.MAX_INNER_PRODUCT
    )
    made.save_local(str(tmp_path / "faiss"))
    loaded = faiss_store.load_local(
        str(tmp_path / "faiss"), embeddings, allow_dangerous_deserialization=True
    )
    fitter = NudgeFitter(embeddings, variant="M").fit(
        loaded, qa["pairs"]("train"), val=qa["pairs"]("val")
    )
    with pytest.raises(MetricMismatchError) as err:
        fitter.swap_in(loaded)
    message = str(err.value)
    assert "distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT" in message
    assert "FAISS.load_local" in message and "EUCLIDEAN_DISTANCE" in message
    again = faiss_store.load_local(
        str(tmp_path / "faiss"),
        embeddings,
        allow_dangerous_deserialization=True,
        distance_strategy=strategy.MAX_INNER_PRODUCT,
    )
    assert len(fitter.swap_in(again).written) > 0
