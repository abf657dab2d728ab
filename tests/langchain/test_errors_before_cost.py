"""Errors before cost (issue 19), LangChain: every check that needs no question vector
fails before a question is embedded (one probe question checks the model's dimension); a
NUDGE-M fit on a store that will refuse it warns as it starts; every public verb refuses
an unknown keyword naming itself and the nearest keyword; bad counts and a bare id."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.core.errors import (
    ArgumentError,
    NonFiniteError,
    NudgeError,
    ShapeError,
    UnknownIdError,
    UnknownKeywordError,
)
from nudge_integrations.langchain import NudgeFitter, NudgeRetriever
from nudge_integrations.langchain import ledger as lc_ledger

from ..hashing import hash_embed
from ..optional import need
from .conftest import HashEmbeddings


class WideQueries(HashEmbeddings):
    """Another model for questions: 96-dimensional (the documents were embedded at 64)."""

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        return [float(x) for x in hash_embed(text, 96)]


class FailingQueries(HashEmbeddings):
    """Counts questions, then fails on the first: proves what happened before it."""

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        raise RuntimeError("the query model was called")


def _store(qa: dict[str, Any]) -> InMemoryVectorStore:
    store = InMemoryVectorStore(HashEmbeddings())
    store.add_documents(qa["docs"])
    return store


# ------------------------------------------------------------------ checks before questions
def test_a_query_model_of_another_dimension_costs_one_question(qa: dict[str, Any]) -> None:
    store = _store(qa)
    model = WideQueries()
    with pytest.raises(ShapeError, match=r"gives 96-dimensional .* dimension 64"):
        NudgeFitter(model).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    assert model.query_calls == 1
    fresh = WideQueries()
    with pytest.raises(ShapeError, match=r"96-dimensional .* dimension 64"):
        asyncio.run(NudgeFitter(fresh).afit(store, qa["pairs"]("train")))
    assert fresh.query_calls == 1


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_non_finite_stored_vector_costs_no_question(qa: dict[str, Any], value: float) -> None:
    store = _store(qa)
    bad = qa["docs"][4].id
    store.store[bad]["vector"][2] = value
    model = HashEmbeddings()
    with pytest.raises(NonFiniteError, match=rf"document {bad!r} contains NaN"):
        NudgeFitter(model).fit(store, qa["pairs"]("train"))
    assert model.query_calls == 0


def test_a_nan_in_a_faiss_store_costs_no_question(qa: dict[str, Any]) -> None:
    need("faiss")
    mod = need("langchain_community.vectorstores")
    docs = qa["docs"]
    vectors = [hash_embed(d.page_content).tolist() for d in docs]
    vectors[3][0] = float("nan")
    poisoned = mod.FAISS.from_embeddings(
        [(d.page_content, v) for d, v in zip(docs, vectors, strict=True)],
        HashEmbeddings(),
        ids=[d.id for d in docs],
    )
    model = HashEmbeddings()
    fitter = NudgeFitter(model)
    with pytest.raises(NonFiniteError, match=rf"document {docs[3].id!r} contains NaN"):
        fitter.fit(poisoned, qa["pairs"]("train"))
    assert model.query_calls == 0


def test_bad_settings_are_refused_by_the_constructor(qa: dict[str, Any]) -> None:
    model = HashEmbeddings()
    loose: Any = NudgeFitter  # wrong types on purpose
    with pytest.raises(
        NudgeError, match=r"NudgeFitter: unknown metric 'ndgc': did you mean 'ndcg'"
    ):
        NudgeFitter(model, metric="ndgc")
    with pytest.raises(NudgeError, match=r"gamma must be a finite number >= 0, got -1"):
        NudgeFitter(model, gamma=-1)
    for bad in ("10", 2.5):
        with pytest.raises(
            ArgumentError, match=rf"batch_size must be a whole number >= 1, got {bad!r}"
        ):
            loose(model, batch_size=bad)
    with pytest.raises(ArgumentError, match=r"concurrency must be a whole number"):
        loose(model, concurrency="8")
    assert model.query_calls == 0 and model.document_calls == 0


def test_an_unknown_id_names_the_question_not_an_internal_id(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    pairs = [("Which topic explains the with statement?", ["nope"])]
    with pytest.raises(UnknownIdError, match=r"training pair 0 \('Which topic explains") as err:
        NudgeFitter(embeddings).fit(qa["docs"], pairs)
    assert "'q0'" not in str(err.value)


# ------------------------------------------------------------------ NUDGE-M on a store
def _refusals(run: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run()
    return [str(x.message) for x in seen if "swap_in will refuse" in str(x.message)]


def test_nudge_m_warns_as_it_starts_on_a_store_that_will_refuse_it(qa: dict[str, Any]) -> None:
    store = _store(qa)  # InMemoryVectorStore ranks by cosine
    model = FailingQueries()
    with (
        pytest.warns(UserWarning, match=r"NUDGE-M fit reads InMemoryVectorStore") as w,
        pytest.raises(RuntimeError, match="query model was called"),
    ):
        NudgeFitter(model, variant="M").fit(store, qa["pairs"]("train"))
    assert model.query_calls >= 1  # warned before it
    (ours,) = [x for x in w if "swap_in will refuse" in str(x.message)]
    assert "as_retriever()" in str(ours.message) and "inner product" in str(ours.message)
    assert ours.filename == __file__


def test_an_l2_store_warns_too_and_an_inner_product_one_does_not(
    qa: dict[str, Any], tmp_path: Path
) -> None:
    need("faiss")
    mod = need("langchain_community.vectorstores")
    from langchain_community.vectorstores.utils import DistanceStrategy

    l2 = mod.FAISS.from_documents(qa["docs"], HashEmbeddings())  # EUCLIDEAN_DISTANCE
    fitter = NudgeFitter(HashEmbeddings(), variant="M")
    (refusal,) = _refusals(lambda: fitter.fit(l2, qa["pairs"]("train")))
    assert "FAISS" in refusal
    ip = mod.FAISS.from_documents(
        qa["docs"], HashEmbeddings(), distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
    )
    assert _refusals(lambda: fitter.fit(ip, qa["pairs"]("train"))) == []
    fitter.swap_in(ip, ledger=tmp_path / "ledger")  # the swap it promised works
    n_fitter = NudgeFitter(HashEmbeddings())
    assert _refusals(lambda: n_fitter.fit(l2, qa["pairs"]("train"))) == []


# ------------------------------------------------------------------ unknown keywords
_VERBS = ["swap_in", "reapply", "revert", "status", "finish", "rollback"]
_ASYNC = ["aswap_in", "areapply", "arevert", "astatus", "afinish", "arollback"]


@pytest.mark.parametrize("verb", _VERBS)
def test_every_store_verb_names_itself_and_the_nearest_keyword(verb: str) -> None:
    fitter = NudgeFitter(HashEmbeddings())
    with pytest.raises(
        UnknownKeywordError,
        match=rf"^NudgeFitter\.{verb}\(\) got an unexpected keyword 'batchsize'; "
        r"did you mean 'batch_size'\?$",
    ):
        getattr(fitter, verb)(object(), batchsize=10)


@pytest.mark.parametrize("verb", _ASYNC)
def test_every_async_verb_names_itself(verb: str) -> None:
    fitter = NudgeFitter(HashEmbeddings())
    with pytest.raises(UnknownKeywordError, match=rf"{verb}\(\) .*'ledgr'; did you mean 'ledger'"):
        asyncio.run(getattr(fitter, verb)(object(), ledgr="x"))


def test_fit_save_load_and_the_retriever_name_themselves(
    qa: dict[str, Any], tmp_path: Path
) -> None:
    emb = HashEmbeddings()
    fitter: Any = NudgeFitter(emb)  # typos on purpose: mypy would reject them
    fitter_cls: Any = NudgeFitter
    retriever: Any = NudgeRetriever
    calls: dict[str, Callable[[], Any]] = {
        r"^NudgeFitter\.fit\(\) got an unexpected keyword 'vall'; did you mean 'val'\?$": (
            lambda: fitter.fit(qa["docs"], qa["pairs"]("train"), vall=[])
        ),
        r"^NudgeFitter\.afit\(\) .*'vall'; did you mean 'val'": lambda: asyncio.run(
            fitter.afit(qa["docs"], qa["pairs"]("train"), vall=[])
        ),
        r"^NudgeFitter\(\) got an unexpected keyword 'gama'; did you mean 'gamma'": (
            lambda: NudgeFitter(emb, gama=0.1)
        ),
        r"^NudgeFitter\.save\(\) .*'pth'; did you mean 'path'": lambda: fitter.save(pth=tmp_path),
        r"^NudgeFitter\.load\(\) .*'chek_model'; did you mean 'check_model'": (
            lambda: fitter_cls.load(tmp_path, emb, chek_model=False)
        ),
        r"^NudgeRetriever\.fit\(\) got an unexpected keyword 'gama'; did you mean 'gamma'": (
            lambda: NudgeRetriever.fit(qa["docs"], emb, qa["pairs"]("train"), gama=0.1)
        ),
        r"^NudgeRetriever\.fit\(\) got an unexpected keyword 'vall'; did you mean 'val'": (
            lambda: NudgeRetriever.fit(qa["docs"], emb, qa["pairs"]("train"), vall=[])
        ),
        r"^NudgeRetriever\(\) got an unexpected keyword 'kk'; did you mean 'k'": (
            lambda: NudgeRetriever(
                documents=qa["docs"][:1], vectors=np.ones((1, 64)), embeddings=emb, kk=3
            )
        ),
        r"^NudgeRetriever\.load\(\) .*'chek_model'": lambda: retriever.load(
            tmp_path, emb, chek_model=False
        ),
    }
    for message, call in calls.items():
        with pytest.raises(UnknownKeywordError, match=message):
            call()
    assert emb.query_calls == 0


@pytest.mark.parametrize("name", ["status", "revert", "finish", "rollback"])
def test_the_module_functions_name_themselves(name: str) -> None:
    with pytest.raises(UnknownKeywordError, match=rf"^{name}\(\) .*'ledgr'; did you mean 'ledger'"):
        getattr(lc_ledger, name)(object(), ledgr="x")


# ------------------------------------------------------------------ counts and ids
def test_batch_size_and_a_bare_id_are_refused_clearly(
    qa: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(qa)
    fitter = NudgeFitter(HashEmbeddings(), gamma=0.1).fit(store, qa["pairs"]("train"))
    ledger = tmp_path / "ledger"
    loose: Any = fitter  # wrong types on purpose
    loose_ledger: Any = lc_ledger
    for bad in ("10", 2.5):
        with pytest.raises(
            ArgumentError, match=rf"batch_size must be a whole number >= 1, got {bad!r}"
        ):
            loose.swap_in(store, ledger=ledger, batch_size=bad)
    moved = list(fitter.swap_in(store, ledger=ledger, batch_size=5))
    assert moved
    with pytest.raises(
        ArgumentError, match=rf"ids must be a list of ids, not the string {moved[0]!r}"
    ):
        fitter.revert(store, moved[0])
    with pytest.raises(ArgumentError, match=rf"pass \[{moved[0]!r}\] to revert"):
        lc_ledger.revert(store, moved[0], ledger=ledger)
    capsys.readouterr()
    state = lc_ledger.status(store, ledger=ledger, batch_size=4, show_progress=True)
    assert state.state == "nudged"
    assert (
        f"status: reading the store: {len(moved)} / {len(moved)} records" in capsys.readouterr().err
    )
    with pytest.raises(ArgumentError, match="batch_size"):
        loose_ledger.status(store, ledger=ledger, batch_size="4")
    assert fitter.revert(store, moved[:2], batch_size=1).restored
