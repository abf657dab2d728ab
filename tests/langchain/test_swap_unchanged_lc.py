"""LangChain: swapping the same fit in again, or an identical refit, writes no vector and
reports its documents as unchanged; the ledger names the new fit, status stays
``nudged`` and revert gives the base back. On real stores: Chroma (cosine, which
re-normalises what it keeps) and FAISS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nudge_integrations.langchain import NudgeFitter
from nudge_integrations.stores import clear_markers
from nudge_integrations.stores.lifecycle import read_markers

from ..write_requests import watch
from .conftest import HashEmbeddings
from .stored import writer_of
from .test_stores import assert_vectors, corpus, vectors  # noqa: F401


@pytest.mark.parametrize("kind", ["chroma", "faiss"])
def test_swapping_the_same_fit_again_writes_nothing(
    kind: str,
    corpus: Callable[..., Any],  # noqa: F811
    embeddings: HashEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, _, pairs = corpus(kind, False)
    base = vectors(store)
    fitter = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"))
    first = fitter.swap_in(store)
    moved = sorted(map(str, fitter.result_.moved_ids))
    assert sorted(first.written) == moved and first.unchanged == []
    nudged = vectors(store)
    ledger = fitter.ledger_
    assert ledger is not None

    writer_type = type(writer_of(store))
    seen = watch(writer_type, monkeypatch)  # every request that writes vectors
    again = fitter.swap_in(store)
    # an identical refit on the nudged store (bases from the ledger) swaps in the same way
    refit = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"))
    third = refit.swap_in(store)
    monkeypatch.undo()

    assert seen.vector_writes() == []  # not one vector written
    for report in (again, third):
        assert report.written == [] and report.restored == [] and len(report) == 0
        assert sorted(report.unchanged) == moved and report.skipped == []
    assert_vectors(store, nudged)
    # a record left unchanged still gets its ledger marker when it lost it
    writer = writer_of(store)
    assert hasattr(writer, "write_markers")
    clear_markers(writer, moved)
    assert sorted(fitter.swap_in(store).unchanged) == moved
    assert read_markers(writer, moved) == dict.fromkeys(moved, str(ledger))
    st = fitter.status(store)
    assert st.state == "nudged" and sorted(st.nudged) == moved
    back = fitter.revert(store, ledger=ledger)
    assert sorted(back.restored) == moved
    assert_vectors(store, base, atol=1e-6 if kind == "chroma" else 0.0)
