"""Saved retrievers and fitters record the model's name and fingerprint; a load checks
both: another model, or the same name with other weights, is refused; a save from before
fingerprints loads on its name, with a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.langchain import NudgeFitter, NudgeRetriever

from ..hashing import hash_embed

SAVED = "nudge_retriever.json"


class Tiny(Embeddings):
    """A small real embedding model: hashed words, with ``seed`` standing for its weights
    and ``model_name`` for its name (a hub id, or a local folder's path)."""

    def __init__(self, seed: int = 0, model_name: str = "tiny-embedder") -> None:
        self.seed, self.model_name = seed, model_name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return hash_embed(f"{self.seed} {text}" if self.seed else text).tolist()


class Down(Tiny):
    """A model whose API is down."""

    def embed_query(self, text: str) -> list[float]:
        raise ConnectionError("the embedding service is unreachable")


def retriever(embeddings: Embeddings) -> NudgeRetriever:
    docs = [Document(id="a", page_content="alpha"), Document(id="b", page_content="beta")]
    return NudgeRetriever(documents=docs, vectors=[[1.0, 0.0], [0.0, 1.0]], embeddings=embeddings)


def saved(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / SAVED).read_text())["embeddings"])


def test_the_fingerprint_is_saved_and_other_weights_are_refused(tmp_path: Path) -> None:
    retriever(Tiny()).save(tmp_path)
    identity = saved(tmp_path)
    assert identity["name"] == "tiny-embedder" and identity["fingerprint"]["dim"] == 64
    assert NudgeRetriever.load(tmp_path, Tiny()).k == 4
    with pytest.raises(NudgeError, match="the same name but other weights") as err:
        NudgeRetriever.load(tmp_path, Tiny(seed=1))
    message = str(err.value)
    assert message.count("'tiny-embedder'") == 2 and message.count("fingerprint ") == 2
    assert "check_model=False" in message
    assert NudgeRetriever.load(tmp_path, Tiny(seed=1), check_model=False).k == 4


def test_another_name_with_the_same_vectors_says_so(tmp_path: Path) -> None:
    retriever(Tiny()).save(tmp_path)
    with pytest.raises(NudgeError, match="may be the same model under another name"):
        NudgeRetriever.load(tmp_path, Tiny(model_name="tiny-embedder-v2"))


def test_a_fitter_checks_the_fingerprint_too(qa: dict[str, Any], tmp_path: Path) -> None:
    fitter = NudgeFitter(Tiny()).fit(qa["docs"], qa["pairs"]("train"), val=qa["pairs"]("val"))
    folder = fitter.save(tmp_path / "fitter")
    assert NudgeFitter.load(folder, Tiny()).result_ is not None
    with pytest.raises(NudgeError, match="other weights"):
        NudgeFitter.load(folder, Tiny(seed=2))


def test_a_save_from_before_fingerprints_loads_on_its_name_with_a_warning(
    tmp_path: Path,
) -> None:
    card = tmp_path / "models" / "model"  # a local folder as the offline MiniLM ships
    card.mkdir(parents=True)
    (card / "README.md").write_text("# tiny-embedder-local\n")
    model = Tiny(model_name=str(card))
    folder = retriever(model).save(tmp_path / "r")
    data = json.loads((folder / SAVED).read_text())
    assert data["embeddings"]["name"] == "tiny-embedder-local"
    # as an earlier version wrote it: the folder's last part, no fingerprint
    data["embeddings"] = {"name": "model", "class": data["embeddings"]["class"]}
    (folder / SAVED).write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="without a model fingerprint"):
        back = NudgeRetriever.load(folder, model)
    np.testing.assert_array_equal(np.asarray(back.vectors), np.eye(2, dtype=np.float32))
    with pytest.raises(NudgeError, match="another model name"):
        NudgeRetriever.load(folder, Tiny())


def test_a_model_that_cannot_embed_at_save_is_recorded_by_name(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="could not embed the fingerprint's probe strings"):
        retriever(Down()).save(tmp_path)
    assert saved(tmp_path)["fingerprint"] is None
    with pytest.warns(UserWarning, match="only the model's name was checked"):
        NudgeRetriever.load(tmp_path, Tiny(seed=3))


def test_a_model_that_cannot_embed_at_load_is_checked_by_name(tmp_path: Path) -> None:
    retriever(Tiny()).save(tmp_path)
    with pytest.warns(UserWarning, match="could not embed the probe strings.*only its name"):
        assert NudgeRetriever.load(tmp_path, Down()).k == 4  # the same name, API down
    with pytest.raises(NudgeError, match="another model name"):
        NudgeRetriever.load(tmp_path, Down(model_name="other"))
