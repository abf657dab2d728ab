"""Store-native fits (``NudgeFinetuneEngine(..., corpus=index, native=True)``) on real
stores: only the named nodes are read, competitors come from the store's own search, and
the result equals the in-memory fit's; swap, refit and revert go through the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.llama_index import corpus as li_corpus

from ..same_fit import assert_same_fit
from ..tiers import slow_for
from .conftest import HashEmbedding
from .test_stores import build, data, store_vectors  # noqa: F401

NATIVE = ["simple", "faiss", "chroma", "chroma-server", "milvus", "qdrant", "lancedb", "pgvector"]


def _index(kind: str, build: Callable[..., Any], qa: dict[str, Any], model: Any) -> Any:  # noqa: F811
    if kind == "simple":
        return VectorStoreIndex(qa["nodes"], embed_model=model), qa
    return build(kind, "ip")


def _engine(index: Any, qa: dict[str, Any], model: Any, **kw: Any) -> NudgeFinetuneEngine:
    eng = NudgeFinetuneEngine(qa["train"], model, corpus=index, val_dataset=qa["val"], **kw)
    eng.finetune()
    return eng


def _same(a: NudgeFinetuneEngine, b: NudgeFinetuneEngine) -> None:
    assert a.result_ is not None and b.result_ is not None
    assert_same_fit(a.result_, b.result_)


@pytest.mark.parametrize("kind", slow_for(NATIVE))
def test_native_engine_equals_in_memory_and_swaps(
    kind: str,
    build: Callable[..., Any],  # noqa: F811
    qa: dict[str, Any],
    embed_model: HashEmbedding,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, qa = _index(kind, build, qa, embed_model)
    ids = [n.node_id for n in qa["nodes"]]
    base = store_vectors(index, ids)
    memory = _engine(index, qa, embed_model)

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("a store-native fit read every node")

    with monkeypatch.context() as m:
        m.setattr(li_corpus, "resolve_corpus", boom)
        native = _engine(index, qa, embed_model, native=True)
        _same(memory, native)
        assert len(native.node_ids) < len(ids)
        with pytest.raises(NudgeError, match="store-native"):
            native.as_retriever()
        written = native.apply_to_index(index)
        again = _engine(index, qa, embed_model, native=True)  # base from the ledger
    assert sorted(written) == sorted(map(str, native.nudged_vectors()))
    _same(memory, again)
    now = store_vectors(index, ids)
    moved = native.nudged_vectors()
    for nid in ids:
        np.testing.assert_allclose(now[nid], moved.get(nid, base[nid]), atol=1e-5)
    native.revert_index(index)
    for nid, vec in store_vectors(index, ids).items():
        np.testing.assert_allclose(vec, base[nid], atol=1e-5)


def test_native_engine_nudge_m_and_bad_input(
    build: Callable[..., Any],  # noqa: F811
    qa: dict[str, Any],
    embed_model: HashEmbedding,
) -> None:
    index, qa = build("faiss", "ip")
    memory = _engine(index, qa, embed_model, variant="M")
    native = _engine(index, qa, embed_model, variant="M", native=True)
    _same(memory, native)
    with pytest.raises(NudgeError, match="VectorStoreIndex"):
        NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"], native=True)
    ds = QADataset.from_any(qa["train"])
    q = ds.query_ids[0]
    bad = QADataset(
        queries=ds.queries,
        corpus={**ds.corpus, "no-such-node": "x"},
        relevant_docs={**ds.relevant_docs, q: ["no-such-node"]},
    )
    with pytest.raises(UnknownIdError, match="no-such-node"):
        NudgeFinetuneEngine(bad, embed_model, corpus=index, native=True)


def test_status_of_an_index_never_nudged_is_base(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    from nudge_integrations.llama_index import status

    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    found = status(index)
    assert found.state == "base" and found.ledger is None
    assert "no nudge ledger" in str(found)


def test_the_module_level_async_verbs_match_the_sync_ones(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    """``astatus`` and ``arevert`` of a LlamaIndex index, from an event loop, give what
    ``status`` and ``revert`` give (for a never-nudged index: base, and the same refusal)."""
    import asyncio
    import inspect

    from nudge_integrations.llama_index import arevert, astatus, revert, status

    assert inspect.signature(arevert) == inspect.signature(revert)
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)

    from nudge_integrations.stores import LedgerError

    with pytest.raises(LedgerError, match="found no nudge ledger") as sync_error:
        revert(index, show_progress=False)

    async def run() -> None:
        found = await astatus(index)
        assert found.state == status(index).state == "base"
        with pytest.raises(LedgerError) as async_error:  # the same refusal, from the loop
            await arevert(index, show_progress=False)
        assert str(async_error.value) == str(sync_error.value)

    asyncio.run(run())


def test_an_engine_on_an_index_shows_the_vector_read_when_asked(
    qa: dict[str, Any], embed_model: HashEmbedding, capsys: pytest.CaptureFixture[str]
) -> None:
    """``show_progress=True`` shows the index's stored vectors being read."""
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    n = len(qa["nodes"])
    NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, show_progress=True)
    assert f"fit: reading the store's vectors: {n} / {n} records (" in capsys.readouterr().err
