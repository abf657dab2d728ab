"""Errors before cost (issue 19), LlamaIndex: every check that needs no question vector
fails before a question is embedded (one probe question checks the model's dimension); a
NUDGE-M fit on a store that will refuse it warns as it starts; every public verb refuses
an unknown keyword naming itself and the nearest keyword; bad counts and a bare id."""

from __future__ import annotations

import asyncio
import copy
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode

from nudge_integrations.core.errors import (
    ArgumentError,
    NonFiniteError,
    NudgeError,
    ShapeError,
    UnknownIdError,
    UnknownKeywordError,
)
from nudge_integrations.llama_index import NudgeFinetuneEngine, NudgeRetriever
from nudge_integrations.llama_index import ledger as li_ledger

from ..hashing import hash_embed
from ..optional import need
from .conftest import HashEmbedding


class WideEmbedding(HashEmbedding):
    """Another model: questions come out 96-dimensional (the corpus was embedded at 64)."""

    @classmethod
    def class_name(cls) -> str:
        return "WideEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        self.query_calls += 1
        return [float(x) for x in hash_embed(query, 96)]


class FailingQueries(HashEmbedding):
    """Counts questions, then fails on the first: proves what happened before it."""

    @classmethod
    def class_name(cls) -> str:
        return "FailingQueries"

    def _get_query_embedding(self, query: str) -> list[float]:
        self.query_calls += 1
        raise RuntimeError("the query model was called")


def _nodes_with(qa: dict[str, Any], bad: int, value: float) -> list[TextNode]:
    """The corpus nodes carrying their hashed vectors, node ``bad`` with ``value`` in it."""
    out = []
    for n, node in enumerate(qa["nodes"]):
        vec = hash_embed(node.get_content())
        if n == bad:
            vec[3] = value
        out.append(node.model_copy(update={"embedding": vec.tolist()}))
    return out


# ------------------------------------------------------------------ checks before questions
def test_a_query_model_of_another_dimension_costs_one_question(qa: dict[str, Any]) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=HashEmbedding())
    model = WideEmbedding()
    engine = NudgeFinetuneEngine.from_defaults(
        qa["train"], model, index=index, val_dataset=qa["val"]
    )
    with pytest.raises(ShapeError, match=r"gives 96-dimensional .* dimension 64"):
        engine.finetune()
    assert model.query_calls == 1
    model.query_calls = 0
    with pytest.raises(ShapeError, match=r"96-dimensional .* dimension 64"):
        asyncio.run(engine.afinetune())
    assert model.query_calls <= 1  # the probe question is cached from the first try


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_non_finite_node_vector_costs_no_question(qa: dict[str, Any], value: float) -> None:
    model = HashEmbedding()
    nodes = _nodes_with(qa, 5, value)
    engine = NudgeFinetuneEngine(qa["train"], model, corpus=nodes, val_dataset=qa["val"])
    with pytest.raises(NonFiniteError, match=rf"node {nodes[5].node_id!r} contains NaN"):
        engine.finetune()
    assert model.query_calls == 0


def test_a_nan_in_a_faiss_store_costs_no_question(qa: dict[str, Any]) -> None:
    faiss = need("faiss")
    mod = need("llama_index.vector_stores.faiss")
    store = mod.FaissVectorStore(faiss_index=faiss.IndexFlatIP(64))
    nodes = _nodes_with(qa, 7, np.nan)
    index = VectorStoreIndex(
        nodes,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=HashEmbedding(),
    )
    model = HashEmbedding()
    engine = NudgeFinetuneEngine.from_defaults(qa["train"], model, index=index)
    with pytest.raises(NonFiniteError, match="contains NaN or infinity"):
        engine.finetune()
    assert model.query_calls == 0


def test_bad_settings_are_refused_by_the_constructor(qa: dict[str, Any]) -> None:
    model = HashEmbedding()
    with pytest.raises(NudgeError, match=r"unknown metric 'ndgc': did you mean 'ndcg'"):
        NudgeFinetuneEngine(qa["train"], model, corpus=qa["nodes"], metric="ndgc")
    with pytest.raises(NudgeError, match=r"gamma must be a finite number >= 0, got -1"):
        NudgeFinetuneEngine(qa["train"], model, corpus=qa["nodes"], gamma=-1)
    with pytest.raises(NudgeError, match=r"unknown device 'cdua'; did you mean 'cuda'"):
        NudgeFinetuneEngine(qa["train"], model, corpus=qa["nodes"], device="cdua")
    with pytest.raises(UnknownKeywordError, match=r"'index'; pass it as corpus=index"):
        NudgeFinetuneEngine(qa["train"], model, index=qa["nodes"])
    assert model.query_calls == 0 and model.text_calls == 0


def test_an_unknown_id_names_the_question(qa: dict[str, Any]) -> None:
    data = copy.deepcopy(qa["train"].to_dict())
    q = next(iter(data["relevant_docs"]))
    data["corpus"]["ghost"] = "a document no node comes from"
    data["relevant_docs"][q] = ["ghost"]
    text = data["queries"][q]
    with pytest.raises(UnknownIdError, match=re.escape(f"query {q!r} ({text[:20]!r}"[:-1])):
        NudgeFinetuneEngine(data, HashEmbedding(), corpus=qa["nodes"])


# ------------------------------------------------------------------ NUDGE-M on a store
def test_nudge_m_warns_as_it_starts_on_a_store_that_will_refuse_it(qa: dict[str, Any]) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=HashEmbedding())  # SimpleVectorStore
    model = FailingQueries()
    engine = NudgeFinetuneEngine.from_defaults(qa["train"], model, index=index, variant="M")
    with (
        pytest.warns(UserWarning, match=r"NUDGE-M fit reads SimpleVectorStore, which swap_in") as w,
        pytest.raises(RuntimeError, match="query model was called"),
    ):
        engine.finetune()  # warned before the first question
    assert model.query_calls == 1
    (ours,) = [x for x in w if "swap_in will refuse" in str(x.message)]
    message = str(ours.message)
    assert "as_retriever()" in message and "inner product" in message  # the two ways
    assert ours.filename == __file__  # pointing at the user's line


def _refusals(run: Callable[[], Any]) -> list[str]:
    """The NUDGE-M refusal warnings ``run`` gave."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run()
    return [str(x.message) for x in seen if "swap_in will refuse" in str(x.message)]


def test_nudge_n_and_an_inner_product_store_do_not_warn(qa: dict[str, Any], tmp_path: Path) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=HashEmbedding())
    engine = NudgeFinetuneEngine.from_defaults(qa["train"], HashEmbedding(), index=index)
    assert _refusals(engine.finetune) == []
    faiss = need("faiss")
    mod = need("llama_index.vector_stores.faiss")
    ip = VectorStoreIndex(
        qa["nodes"],
        storage_context=StorageContext.from_defaults(
            vector_store=mod.FaissVectorStore(faiss_index=faiss.IndexFlatIP(64))
        ),
        embed_model=HashEmbedding(),
    )
    engine = NudgeFinetuneEngine.from_defaults(qa["train"], HashEmbedding(), index=ip, variant="M")
    assert _refusals(engine.finetune) == []
    engine.swap_in(ip, ledger=tmp_path / "ledger")  # and the swap it promised works


# ------------------------------------------------------------------ unknown keywords
_STORE_VERBS = [
    "swap_in",
    "apply_to_index",
    "reapply",
    "revert",
    "revert_index",
    "status",
    "index_status",
    "finish",
    "rollback",
]
_ASYNC_VERBS = ["aswap_in", "aapply_to_index", "areapply", "arevert", "astatus", "afinish"]


@pytest.fixture
def engine(qa: dict[str, Any]) -> NudgeFinetuneEngine:
    return NudgeFinetuneEngine(qa["train"], HashEmbedding(), corpus=qa["nodes"])


@pytest.mark.parametrize("verb", _STORE_VERBS)
def test_every_store_verb_names_itself_and_the_nearest_keyword(
    engine: NudgeFinetuneEngine, verb: str
) -> None:
    expected = (
        rf"^NudgeFinetuneEngine\.{verb}\(\) got an unexpected keyword 'ledgr'; "
        r"did you mean 'ledger'\?$"
    )
    with pytest.raises(UnknownKeywordError, match=expected):
        getattr(engine, verb)(object(), ledgr="x")
    with pytest.raises(TypeError, match=rf"{verb}\(\) .*'batchsize'; did you mean 'batch_size'"):
        getattr(engine, verb)(object(), batchsize=10)


@pytest.mark.parametrize("verb", [*_ASYNC_VERBS, "arollback"])
def test_every_async_verb_names_itself(engine: NudgeFinetuneEngine, verb: str) -> None:
    with pytest.raises(UnknownKeywordError, match=rf"{verb}\(\) .*'ledgr'; did you mean 'ledger'"):
        asyncio.run(getattr(engine, verb)(object(), ledgr="x"))


def test_the_other_methods_name_themselves(
    engine: NudgeFinetuneEngine, qa: dict[str, Any], tmp_path: Path
) -> None:
    loose: Any = engine  # typos on purpose: mypy would reject them
    cls: Any = NudgeFinetuneEngine
    retriever: Any = NudgeRetriever
    calls: dict[str, Callable[[], Any]] = {
        r"NudgeFinetuneEngine\.finetune\(\) got an unexpected keyword 'x'": lambda: loose.finetune(
            x=1
        ),
        r"afinetune\(\) got an unexpected keyword 'x'": lambda: asyncio.run(loose.afinetune(x=1)),
        r"persist\(\) got an unexpected keyword 'persistdir'; did you mean 'persist_dir'": (
            lambda: loose.persist(persistdir=tmp_path)
        ),
        r"save\(\) got an unexpected keyword 'persistdir'": lambda: loose.save(persistdir=1),
        r"NudgeFinetuneEngine\.from_persist_dir\(\) .*'chek_model'; did you mean 'check_model'": (
            lambda: cls.from_persist_dir(tmp_path, chek_model=False)
        ),
        r"NudgeFinetuneEngine\.load\(\) .*'chek_model'": lambda: cls.load(
            tmp_path, chek_model=False
        ),
        r"from_defaults\(\) got an unexpected keyword 'gama'; did you mean 'gamma'": (
            lambda: cls.from_defaults(qa["train"], HashEmbedding(), gama=0.1)
        ),
        r"insert_nodes\(\) got an unexpected keyword 'refitt'; did you mean 'refit'": (
            lambda: loose.insert_nodes([], refitt=False)
        ),
        r"delete_nodes\(\) got an unexpected keyword 'refitt'": (
            lambda: loose.delete_nodes([], refitt=False)
        ),
        r"NudgeRetriever\(\) got an unexpected keyword 'simlarity'; did you mean 'similarity'": (
            lambda: retriever(qa["nodes"], np.ones((1, 4)), HashEmbedding(), simlarity="dot")
        ),
    }
    for message, call in calls.items():
        with pytest.raises(UnknownKeywordError, match=message):
            call()


@pytest.mark.parametrize("name", ["status", "revert", "finish", "rollback"])
def test_the_module_functions_name_themselves(name: str) -> None:
    with pytest.raises(UnknownKeywordError, match=rf"^{name}\(\) .*'ledgr'; did you mean 'ledger'"):
        getattr(li_ledger, name)(object(), ledgr="x")


# ------------------------------------------------------------------ counts and ids
def test_batch_size_and_a_bare_id_are_refused_clearly(
    qa: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=HashEmbedding())
    engine = NudgeFinetuneEngine.from_defaults(qa["train"], HashEmbedding(), index=index, gamma=0.1)
    engine.finetune()
    loose: Any = engine  # wrong types on purpose
    ledger = tmp_path / "ledger"
    for bad, error in (("10", ArgumentError), (2.5, ArgumentError), (0, NudgeError)):
        with pytest.raises(error, match=rf"batch_size must be a whole number >= 1, got {bad!r}"):
            loose.swap_in(index, ledger=ledger, batch_size=bad)
    with pytest.raises(ArgumentError, match=r"batch_size=10"):
        loose.swap_in(index, ledger=ledger, batch_size="10")
    report = engine.swap_in(index, ledger=ledger, batch_size=7)
    moved = list(report)
    assert moved
    with pytest.raises(ArgumentError, match=rf"not the string {moved[0]!r}.*pass \[{moved[0]!r}\]"):
        engine.revert(index, moved[0])
    with pytest.raises(ArgumentError, match=r"node_ids must be a list of ids, not the string"):
        li_ledger.revert(index, moved[0], ledger=ledger)
    # the module-level status takes batch_size and show_progress, as the verbs do
    capsys.readouterr()
    state = li_ledger.status(index, ledger=ledger, batch_size=3, show_progress=True)
    assert state.state == "nudged"
    assert (
        f"status: reading the store: {len(moved)} / {len(moved)} records" in capsys.readouterr().err
    )
    assert engine.status(index, batch_size=5).state == "nudged"
    loose_ledger: Any = li_ledger
    with pytest.raises(ArgumentError, match="batch_size"):
        loose_ledger.status(index, ledger=ledger, batch_size=2.5)
    engine.revert(index, moved[:1])
    assert engine.revert(index).restored
