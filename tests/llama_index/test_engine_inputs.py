"""NudgeFinetuneEngine: mistakes refused at construction, in the engine's own words."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from nudge_integrations.core.errors import EmptyTrainingSetError, NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import NudgeFinetuneEngine

from .conftest import HashEmbedding


def test_empty_datasets_are_refused_naming_the_argument(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    empty = QADataset(queries={}, corpus=qa["train"].corpus, relevant_docs={})
    with pytest.raises(EmptyTrainingSetError, match="train_dataset has no queries"):
        NudgeFinetuneEngine(empty, embed_model, corpus=qa["nodes"])
    with pytest.raises(
        EmptyTrainingSetError, match=r"val_dataset has no queries.*val_dataset=None"
    ):
        NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"], val_dataset=empty)
    with pytest.raises(NudgeError, match="train_dataset: QA dataset is missing queries"):
        NudgeFinetuneEngine({}, embed_model, corpus=qa["nodes"])


def test_a_bare_relevant_id_is_refused_not_split_into_letters(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    data = copy.deepcopy(qa["train"].to_dict())
    q = next(iter(data["relevant_docs"]))
    data["relevant_docs"][q] = data["relevant_docs"][q][0]  # "d1" instead of ["d1"]
    with pytest.raises(NudgeError, match=r"must be a list of ids.*write \["):
        NudgeFinetuneEngine(data, embed_model, corpus=qa["nodes"])


def test_unknown_keywords_are_refused_with_a_suggestion(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    with pytest.raises(
        NudgeError,
        match=r"NudgeFinetuneEngine\(\) got an unexpected keyword 'gama'; did you mean 'gamma'",
    ):
        NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"], gama=0.1)
    with pytest.raises(NudgeError, match=r"'val_datset'; did you mean 'val_dataset'"):
        NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"], val_datset=qa["val"])


def test_a_json_path_is_accepted_as_a_dataset(
    qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path
) -> None:
    qa["train"].save_json(tmp_path / "train.json")
    qa["val"].save_json(tmp_path / "val.json")
    eng = NudgeFinetuneEngine(
        str(tmp_path / "train.json"),
        embed_model,
        corpus=qa["nodes"],
        val_dataset=tmp_path / "val.json",
    )
    eng.finetune()
    direct = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=qa["nodes"], val_dataset=qa["val"]
    )
    direct.finetune()
    assert eng.gamma_ == direct.gamma_
    with pytest.raises(NudgeError, match="is not a file"):
        NudgeFinetuneEngine(str(tmp_path / "nope.json"), embed_model, corpus=qa["nodes"])


def test_one_query_without_validation_names_the_engines_arguments(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    one = qa["train"].subset(qa["train"].query_ids[:1])
    with pytest.raises(EmptyTrainingSetError, match="pass val_dataset=") as info:
        NudgeFinetuneEngine(one, embed_model, corpus=qa["nodes"])
    assert "val_queries" not in str(info.value)
