"""NudgeRetriever.save/load (folder of .npy + JSON, no pickle) and its short repr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.langchain import NudgeFitter, NudgeRetriever

from .conftest import HashEmbeddings

ROOT = Path(__file__).resolve().parents[2]

LOAD_AND_QUERY = """
import json, sys
from nudge_integrations.langchain import NudgeFitter, NudgeRetriever
from tests.langchain.conftest import HashEmbeddings
retriever = NudgeRetriever.load(sys.argv[1], HashEmbeddings())
queries = json.loads(sys.argv[2])
found = [retriever.invoke(q) for q in queries]
ids = [[d.id for d in docs] for docs in found]
metadata = [[d.metadata for d in docs] for docs in found]
print(json.dumps({"repr": repr(retriever), "ids": ids, "metadata": metadata}))
"""


class MiniLMNamed(HashEmbeddings):
    """The hashing embeddings under a real model's name, to test the model check."""

    model_name = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def fitted(qa: dict[str, Any]) -> NudgeRetriever:
    return NudgeRetriever.fit(
        qa["docs"], HashEmbeddings(), qa["pairs"]("train"), val=qa["pairs"]("val"), k=5
    )


@pytest.mark.slow
def test_round_trip_in_a_new_process_gives_the_same_results(
    qa: dict[str, Any], fitted: NudgeRetriever, tmp_path: Path
) -> None:
    folder = fitted.save(tmp_path / "retriever")
    assert sorted(p.name for p in folder.iterdir()) == ["nudge_retriever.json", "vectors.npy"]
    saved = json.loads((folder / "nudge_retriever.json").read_text())
    assert saved["embeddings"]["name"] == "HashEmbeddings" and saved["k"] == 5
    queries = [qa["test"].queries[q] for q in qa["test"].query_ids[:20]]
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_QUERY, str(folder), json.dumps(queries)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout)
    assert got["ids"] == [[d.id for d in fitted.invoke(q)] for q in queries]
    assert got["metadata"] == [[d.metadata for d in fitted.invoke(q)] for q in queries]
    assert got["repr"] == repr(fitted)


def test_loaded_vectors_and_settings_are_identical(
    qa: dict[str, Any], fitted: NudgeRetriever, tmp_path: Path
) -> None:
    fitted.save(tmp_path)
    back = NudgeRetriever.load(tmp_path, HashEmbeddings())
    np.testing.assert_array_equal(np.asarray(back.vectors), np.asarray(fitted.vectors))
    assert (back.k, back.similarity) == (fitted.k, fitted.similarity)
    assert back.documents == fitted.documents


def test_another_model_is_refused_unless_overridden(fitted: NudgeRetriever, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    with pytest.raises(NudgeError, match="made with embedding model 'HashEmbeddings'"):
        NudgeRetriever.load(tmp_path, MiniLMNamed())
    assert NudgeRetriever.load(tmp_path, MiniLMNamed(), check_model=False).k == 5


def test_model_name_comes_from_the_embeddings_attribute(tmp_path: Path) -> None:
    docs = [Document(id="a", page_content="alpha"), Document(id="b", page_content="beta")]
    retriever = NudgeRetriever(
        documents=docs, vectors=[[1.0, 0.0], [0.0, 1.0]], embeddings=MiniLMNamed()
    )
    retriever.save(tmp_path)
    saved = json.loads((tmp_path / "nudge_retriever.json").read_text())
    assert saved["embeddings"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(NudgeError, match="all-MiniLM-L6-v2"):
        NudgeRetriever.load(tmp_path, HashEmbeddings())


def test_repr_is_a_short_summary(fitted: NudgeRetriever, qa: dict[str, Any]) -> None:
    text = repr(fitted)
    assert len(text) < 500 and len(str(fitted)) < 500
    assert f"documents={len(qa['docs'])}" in text and f"dim={qa['dim']}" in text
    assert "k=5" in text and "HashEmbeddings" in text


def test_missing_or_broken_folders_are_named(fitted: NudgeRetriever, tmp_path: Path) -> None:
    with pytest.raises(NudgeError, match="does not exist"):
        NudgeRetriever.load(tmp_path / "nowhere", HashEmbeddings())
    fitted.save(tmp_path / "r")
    (tmp_path / "r" / "vectors.npy").unlink()
    with pytest.raises(NudgeError, match=r"vectors\.npy is missing"):
        NudgeRetriever.load(tmp_path / "r", HashEmbeddings())
    (tmp_path / "file").write_text("x")
    with pytest.raises(NudgeError, match="is a file"):
        fitted.save(tmp_path / "file")


def test_unserialisable_metadata_is_refused_before_writing(tmp_path: Path) -> None:
    docs = [Document(id="a", page_content="alpha", metadata={"when": object()})]
    retriever = NudgeRetriever(documents=docs, vectors=[[1.0, 0.0]], embeddings=HashEmbeddings())
    with pytest.raises(NudgeError, match="not JSON-serialisable"):
        retriever.save(tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_model_dump_json_names_the_model_and_lists_the_vectors(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    retriever = NudgeFitter(embeddings).fit(qa["docs"], qa["pairs"]("train")).as_retriever()
    dumped = json.loads(retriever.model_dump_json())
    assert dumped["embeddings"]["name"] == "HashEmbeddings"
    assert np.asarray(dumped["vectors"]).shape == (len(qa["docs"]), qa["dim"])
