"""NudgeFinetuneEngine lifecycle: all-or-nothing insert/delete, and persistence that
records (never pickles) the embed model and checks it on reload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import Settings
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import TextNode

from nudge_integrations.core.errors import (
    DuplicateIdError,
    EmptyTrainingSetError,
    NudgeError,
    ShapeError,
    UnknownIdError,
)
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import NudgeFinetuneEngine

from .conftest import HashEmbedding

ROOT = Path(__file__).resolve().parents[2]


class BreakableEmbedding(HashEmbedding):
    """The hashing model, failing on queries that contain ``fail_on`` (a flaky API)."""

    fail_on: str = "\0never"

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"  # the same model as far as persistence is concerned

    def _get_query_embedding(self, query: str) -> list[float]:
        if self.fail_on in query:
            raise RuntimeError("embedding service unavailable")
        return super()._get_query_embedding(query)


class BgeNamed(HashEmbedding):
    """The hashing model under a real model's name, to test the model check."""

    model_name: str = "BAAI/bge-small-en-v1.5"


def split(qa: dict[str, Any]) -> dict[str, Any]:
    """A corpus without its last 5 nodes, QA data not touching them, and QA about them."""
    held = qa["nodes"][-5:]
    held_ids = {n.node_id for n in held}
    train, val = qa["train"], qa["val"]
    return {
        "nodes": qa["nodes"][:-5],
        "held": held,
        "train": train.subset(
            q for q in train.query_ids if not set(train.relevant_docs[q]) & held_ids
        ),
        "new_train": train.subset(
            q for q in train.query_ids if set(train.relevant_docs[q]) <= held_ids
        ),
        "val": val.subset(q for q in val.query_ids if not set(val.relevant_docs[q]) & held_ids),
    }


def make(qa: dict[str, Any], embed_model: HashEmbedding, fit: bool = True) -> NudgeFinetuneEngine:
    parts = split(qa)
    eng = NudgeFinetuneEngine(
        parts["train"], embed_model, corpus=parts["nodes"], val_dataset=parts["val"]
    )
    if fit:
        eng.finetune()
    return eng


def state(eng: NudgeFinetuneEngine) -> dict[str, Any]:
    """Everything a failed call must leave untouched."""
    return {
        "ids": list(eng.node_ids),
        "base": sorted(eng._base),
        "train": eng._train.to_dict(),
        "val": None if eng._val is None else eng._val.to_dict(),
        "result": eng.result_,
        "vectors": eng.get_finetuned_corpus_embeddings() if eng.result_ is not None else None,
    }


def assert_unchanged(eng: NudgeFinetuneEngine, before: dict[str, Any]) -> None:
    """The failed call changed nothing, and a refit still gives the same fit (which then
    becomes the fit the next check expects)."""
    now = state(eng)
    assert (now["ids"], now["base"]) == (before["ids"], before["base"])
    assert (now["train"], now["val"]) == (before["train"], before["val"])
    assert now["result"] is before["result"]
    assert now["vectors"] == before["vectors"]
    eng.finetune()  # a refit works, on the same data, to the same fit
    if before["result"] is not None:
        assert eng.gamma_ == before["result"].gamma
        assert eng.get_finetuned_corpus_embeddings() == before["vectors"]
    before["result"] = eng.result_


def qa_about(node: TextNode, qid: str, text: str, doc: str | None = None) -> QADataset:
    doc = doc or node.node_id
    return QADataset(
        queries={qid: text}, corpus={doc: node.get_content()}, relevant_docs={qid: [doc]}
    )


# --------------------------------------------------------------------- insert_nodes
def test_insert_validates_everything_before_changing_anything(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = make(qa, embed_model)
    parts = split(qa)
    held = parts["held"]
    known_qid = eng._train.query_ids[0]
    bad_calls: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (DuplicateIdError, "already in the corpus", {"nodes": held + parts["nodes"][:1]}),
        (DuplicateIdError, "appears twice", {"nodes": [held[0], held[0]]}),
        (
            DuplicateIdError,
            "different text",
            {"nodes": held, "train_dataset": qa_about(held[0], known_qid, "another question?")},
        ),
        (
            UnknownIdError,
            "no node has that id",
            {"nodes": held[:1], "train_dataset": qa_about(held[0], "q-new", "what?", "ghost")},
        ),
        (
            UnknownIdError,
            "no node has that id",
            {"nodes": held[:1], "val_dataset": qa_about(held[1], "q-new", "what?")},
        ),
        (
            EmptyTrainingSetError,
            "holds no queries",
            {"nodes": held, "train_dataset": QADataset({}, {}, {})},
        ),
        (
            NudgeError,
            "missing relevant_docs",
            {"nodes": held, "val_dataset": {"queries": {}, "corpus": {}}},
        ),
        (NudgeError, "no nodes to insert", {"nodes": []}),
        (NudgeError, "wrap a single node", {"nodes": held[0]}),
        (NudgeError, "not a LlamaIndex node", {"nodes": ["just text"]}),
        (
            ShapeError,
            "3-dimensional embedding",
            {"nodes": [TextNode(id_="x", text="x", embedding=[1.0, 0.0, 0.0])]},
        ),
    ]
    before = state(eng)
    for error, message, kwargs in bad_calls:
        with pytest.raises(error, match=message):
            eng.insert_nodes(**kwargs)
        assert_unchanged(eng, before)
    eng.insert_nodes(held, train_dataset=parts["new_train"])  # the valid call still works
    assert eng.node_ids == before["ids"] + [n.node_id for n in held]
    assert set(parts["new_train"].query_ids) <= set(eng._train.query_ids)


def test_insert_restores_the_engine_when_the_refit_fails(qa: dict[str, Any]) -> None:
    model = BreakableEmbedding(fail_on="EXPLODE")
    eng = make(qa, model)
    held = split(qa)["held"]
    before = state(eng)
    bad = qa_about(held[0], "q-boom", "EXPLODE: what does this passage say?")
    with pytest.raises(RuntimeError, match="unavailable"):
        eng.insert_nodes(held, train_dataset=bad)
    assert_unchanged(eng, before)
    with pytest.raises(RuntimeError, match="unavailable"):
        eng.insert_nodes(held, val_dataset=bad)
    assert_unchanged(eng, before)


def test_insert_without_refit_keeps_the_old_fit(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = make(qa, embed_model)
    parts = split(qa)
    fit = eng.result_
    eng.insert_nodes(parts["held"], train_dataset=parts["new_train"], refit=False)
    assert eng.result_ is fit and len(eng.node_ids) == len(qa["nodes"])
    eng.finetune()
    assert eng.result_ is not fit and eng.result_ is not None
    assert eng.result_.n_records == len(qa["nodes"])


# --------------------------------------------------------------------- delete_nodes
def test_delete_refuses_bad_ids_and_deletes_nothing(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = make(qa, embed_model)
    before = state(eng)
    first = eng.node_ids[0]
    with pytest.raises(UnknownIdError, match="'nope' is not in the corpus, so nothing was deleted"):
        eng.delete_nodes([first, "nope"])
    assert_unchanged(eng, before)
    with pytest.raises(NudgeError, match=r"wrap a single id as \[node_id\]"):
        eng.delete_nodes(first)
    assert_unchanged(eng, before)
    with pytest.raises(NudgeError, match="leave the corpus empty"):
        eng.delete_nodes(eng.node_ids)
    assert_unchanged(eng, before)


def test_deleting_every_training_target_deletes_nothing(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = make(qa, embed_model)
    before = state(eng)
    targets = {d for q in eng._train.query_ids for d in eng._train.relevant_docs[q]}
    assert len(targets) < len(eng.node_ids)  # some nodes would be left
    with pytest.raises(EmptyTrainingSetError, match="nothing was deleted"):
        eng.delete_nodes(sorted(targets))
    assert_unchanged(eng, before)


def test_delete_restores_the_engine_when_the_refit_fails(qa: dict[str, Any]) -> None:
    model = BreakableEmbedding()
    eng = make(qa, model, fit=False)  # nothing embedded yet: the refit must call the model
    before = state(eng)
    model.fail_on = ""  # every query fails
    victim = eng.node_ids[0]
    with pytest.raises(RuntimeError, match="unavailable"):
        eng.delete_nodes([victim, victim])
    model.fail_on = "\0never"
    assert_unchanged(eng, before)
    eng.delete_nodes([victim])
    assert victim not in eng.node_ids
    assert all(victim not in docs for docs in eng._train.relevant_docs.values())


# --------------------------------------------------------------------- persistence
def test_persist_records_the_model_name_and_class(
    qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path
) -> None:
    make(qa, embed_model).persist(tmp_path)
    saved = json.loads((tmp_path / "nudge_engine.json").read_text())
    recorded = saved["embed_model"]
    assert {k: recorded[k] for k in ("name", "class")} == {
        "name": "HashEmbedding",
        "class": f"{HashEmbedding.__module__}.HashEmbedding",
    }
    assert recorded["fingerprint"]  # its vectors for the probe strings

    class Reweighted(HashEmbedding):  # the same name, other weights
        def _get_query_embedding(self, query: str) -> list[float]:
            return [-x for x in super()._get_query_embedding(query)]

    Reweighted.__module__ = HashEmbedding.__module__
    Reweighted.__qualname__ = Reweighted.__name__ = "HashEmbedding"
    with pytest.raises(NudgeError, match="other weights"):
        NudgeFinetuneEngine.from_persist_dir(tmp_path, embed_model=Reweighted())
    make(qa, BgeNamed()).persist(tmp_path / "bge")  # a real name wins over the class name
    saved = json.loads((tmp_path / "bge" / "nudge_engine.json").read_text())
    assert saved["embed_model"]["name"] == "BAAI/bge-small-en-v1.5"


def test_reload_without_a_model_names_the_recorded_one(
    qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(qa, embed_model).persist(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(Settings, "_embed_model", None)  # LlamaIndex's default: OpenAI
    with pytest.raises(NudgeError, match=r"fitted with embed model 'HashEmbedding'.*embed_model="):
        NudgeFinetuneEngine.from_persist_dir(tmp_path)
    monkeypatch.setattr(Settings, "_embed_model", MockEmbedding(embed_dim=64))
    with pytest.raises(NudgeError, match=r"'MockEmbedding'.*was given"):
        NudgeFinetuneEngine.from_persist_dir(tmp_path)
    monkeypatch.setattr(Settings, "_embed_model", embed_model)
    assert NudgeFinetuneEngine.from_persist_dir(tmp_path).embed_model is embed_model


def test_reload_with_another_model_is_refused_unless_overridden(
    qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path
) -> None:
    eng = make(qa, embed_model)
    eng.persist(tmp_path)
    with pytest.raises(NudgeError, match=r"'HashEmbedding' \(.*\), but 'BAAI/bge-small-en-v1.5'"):
        NudgeFinetuneEngine.from_persist_dir(tmp_path, BgeNamed())
    back = NudgeFinetuneEngine.from_persist_dir(tmp_path, BgeNamed(), check_model=False)
    assert back.gamma_ == eng.gamma_
    state_file = tmp_path / "nudge_engine.json"  # folders from before the model was recorded
    old = json.loads(state_file.read_text())
    del old["embed_model"]
    state_file.write_text(json.dumps(old))
    assert NudgeFinetuneEngine.from_persist_dir(tmp_path, BgeNamed()).gamma_ == eng.gamma_


def test_reload_of_missing_folder_or_file_is_named(
    qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path
) -> None:
    with pytest.raises(NudgeError, match=r"nudge_engine\.json is missing"):
        NudgeFinetuneEngine.from_persist_dir(tmp_path / "nowhere", embed_model)
    make(qa, embed_model).persist(tmp_path)
    (tmp_path / "base.npy").unlink()
    with pytest.raises(NudgeError, match=r"base\.npy is missing"):
        NudgeFinetuneEngine.from_persist_dir(tmp_path, embed_model)


RELOAD = """
import json, sys
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.llama_index import NudgeFinetuneEngine
from tests.llama_index.conftest import HashEmbedding
try:
    NudgeFinetuneEngine.from_persist_dir(sys.argv[1])
    missing = None
except NudgeError as exc:
    missing = str(exc)
eng = NudgeFinetuneEngine.from_persist_dir(sys.argv[1], HashEmbedding())
retriever = eng.as_retriever(similarity_top_k=5)
ranked = [[n.node.node_id for n in retriever.retrieve(q)] for q in json.loads(sys.argv[2])]
print(json.dumps({"missing": missing, "gamma": eng.gamma_, "ids": eng.node_ids, "ranked": ranked}))
"""


@pytest.mark.slow
def test_round_trip_in_a_new_process(
    qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path
) -> None:
    eng = make(qa, embed_model)
    parts = split(qa)
    eng.insert_nodes(parts["held"], train_dataset=parts["new_train"])
    eng.delete_nodes([parts["nodes"][0].node_id])
    eng.persist(tmp_path)
    queries = [qa["test"].queries[q] for q in qa["test"].query_ids[:20]]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    out = subprocess.run(
        [sys.executable, "-c", RELOAD, str(tmp_path), json.dumps(queries)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout)
    assert got["missing"] is not None and "'HashEmbedding'" in got["missing"]
    assert "embed_model=" in got["missing"]
    assert got["gamma"] == eng.gamma_ and got["ids"] == eng.node_ids
    retriever = eng.as_retriever(similarity_top_k=5)
    assert got["ranked"] == [[n.node.node_id for n in retriever.retrieve(q)] for q in queries]
    np.testing.assert_array_equal(np.load(tmp_path / "base.npy"), eng.base_embeddings_matrix())
