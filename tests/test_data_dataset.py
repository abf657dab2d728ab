"""QADataset: LlamaIndex-schema JSON both ways, graded relevance, subsets and id checks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError
from nudge_integrations.data import QADataset

LLAMA_KEYS = {"queries", "corpus", "relevant_docs", "mode"}


def small(**overrides: object) -> QADataset:
    fields: dict[str, object] = {
        "queries": {"q1": "what is a cat", "q2": "what is a dog", "q3": "fish?"},
        "corpus": {"d1": "cats purr", "d2": "dogs bark", "d3": "fish swim", "d4": "unrelated"},
        "relevant_docs": {"q1": ["d1"], "q2": ["d2", "d4"], "q3": ["d3"]},
    }
    fields.update(overrides)
    return QADataset(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------ JSON round trip
def test_round_trip_keeps_graded_relevance(tmp_path: Path) -> None:
    ds = small(relevance_scores={"q2": {"d2": 2.0, "d4": 1.0}, "q3": {"d3": 3.0}})
    path = tmp_path / "qa.json"
    ds.save_json(path)

    raw = json.loads(path.read_text())
    assert set(raw) == LLAMA_KEYS | {"relevance_scores"}
    assert raw["relevance_scores"] == {"q2": {"d2": 2.0, "d4": 1.0}, "q3": {"d3": 3.0}}

    back = QADataset.from_json(path)
    assert back.queries == ds.queries
    assert back.corpus == ds.corpus
    assert back.relevant_docs == ds.relevant_docs
    assert back.mode == "text"
    assert back.grades("q1") == {"d1": 1.0}
    assert back.grades("q2") == {"d2": 2.0, "d4": 1.0}
    assert back.grades("q3") == {"d3": 3.0}
    assert back.judgements() == ds.judgements()
    assert back == ds


def test_round_trip_preserves_order_and_unicode(tmp_path: Path) -> None:
    ds = QADataset(
        queries={"z": "größe?", "a": "naïve"},
        corpus={"9": "Größe", "1": "naïveté", "5": "日本語"},
        relevant_docs={"z": ["9"], "a": ["5", "1"]},
    )
    path = tmp_path / "qa.json"
    ds.save_json(path)
    back = QADataset.from_json(path)
    assert back.query_ids == ["z", "a"]
    assert back.corpus_ids == ["9", "1", "5"]
    assert back.relevant_docs["a"] == ["5", "1"]
    assert back.corpus["5"] == "日本語"


def test_all_ones_saves_exactly_the_llamaindex_keys(tmp_path: Path) -> None:
    ds = small(relevance_scores={"q1": {"d1": 1.0}, "q2": {"d2": 1, "d4": 1}})
    path = tmp_path / "qa.json"
    ds.save_json(path)
    raw = json.loads(path.read_text())
    assert set(raw) == LLAMA_KEYS
    assert raw["mode"] == "text"
    assert raw["relevant_docs"] == {"q1": ["d1"], "q2": ["d2", "d4"], "q3": ["d3"]}
    assert set(small().to_dict()) == LLAMA_KEYS


def test_hand_written_llamaindex_file_loads_unchanged(tmp_path: Path) -> None:
    llama = {
        "queries": {"7f3a": "Where do penguins live?", "b21c": "How tall is Everest?"},
        "corpus": {
            "node-1": "Penguins live in the Southern Hemisphere.",
            "node-2": "Mount Everest is 8,849 m tall.",
            "node-3": "Unrelated passage.",
        },
        "relevant_docs": {"7f3a": ["node-1"], "b21c": ["node-2"]},
        "mode": "text",
    }
    path = tmp_path / "llama.json"
    path.write_text(json.dumps(llama))
    ds = QADataset.from_json(path)
    assert ds.queries == llama["queries"]
    assert ds.corpus == llama["corpus"]
    assert ds.relevant_docs == llama["relevant_docs"]
    assert ds.mode == "text"
    assert ds.relevance_scores == {}
    assert ds.grades("7f3a") == {"node-1": 1.0}
    assert len(ds) == 2
    # and it writes back byte-for-byte the same structure
    out = tmp_path / "again.json"
    ds.save_json(out)
    assert json.loads(out.read_text()) == llama


# ------------------------------------------------------------------ from_any
def test_from_any_accepts_dataset_dict_and_object() -> None:
    ds = small()
    assert QADataset.from_any(ds) is ds

    from_dict = QADataset.from_any(
        {"queries": ds.queries, "corpus": ds.corpus, "relevant_docs": ds.relevant_docs}
    )
    assert from_dict == ds

    obj = SimpleNamespace(
        queries=dict(ds.queries), corpus=dict(ds.corpus), relevant_docs=dict(ds.relevant_docs)
    )
    from_obj = QADataset.from_any(obj)
    assert from_obj == ds
    assert from_obj.mode == "text"

    graded = SimpleNamespace(
        queries={"q": "x"},
        corpus={"d": "y"},
        relevant_docs={"q": ["d"]},
        mode="text",
        relevance_scores={"q": {"d": 2}},
    )
    assert QADataset.from_any(graded).grades("q") == {"d": 2.0}


def test_from_any_rejects_other_objects() -> None:
    with pytest.raises(NudgeError, match="cannot read a QA dataset from int"):
        QADataset.from_any(42)
    with pytest.raises(NudgeError, match="SimpleNamespace"):
        QADataset.from_any(SimpleNamespace(queries={}, corpus={}))


def test_ids_are_coerced_to_strings() -> None:
    ds = QADataset(queries={1: "q"}, corpus={10: "d", 11: "e"}, relevant_docs={1: [10]})  # type: ignore[dict-item]
    assert ds.queries == {"1": "q"}
    assert ds.corpus_ids == ["10", "11"]
    assert ds.relevant_docs == {"1": ["10"]}


# ------------------------------------------------------------------ subset / grades
def test_subset_keeps_corpus_order_and_grades() -> None:
    ds = small(relevance_scores={"q2": {"d2": 2.0}, "q3": {"d3": 3.0}})
    sub = ds.subset(["q3", "q1"])
    assert sub.query_ids == ["q3", "q1"]
    assert sub.corpus == ds.corpus
    assert sub.relevant_docs == {"q3": ["d3"], "q1": ["d1"]}
    assert sub.relevance_scores == {"q3": {"d3": 3.0}}
    assert sub.judgements() == [{"d3": 3.0}, {"d1": 1.0}]
    assert len(sub) == 2
    assert len(ds) == 3  # the original is untouched
    with pytest.raises(UnknownIdError, match="'nope'"):
        ds.subset(["q1", "nope"])


def test_grades_default_to_one_and_judgements_follow_order() -> None:
    ds = small(relevance_scores={"q2": {"d4": 2}})
    assert ds.grades("q2") == {"d2": 1.0, "d4": 2.0}
    assert ds.grades("q1") == {"d1": 1.0}
    assert ds.judgements(["q2", "q1"]) == [{"d2": 1.0, "d4": 2.0}, {"d1": 1.0}]
    assert ds.judgements() == [{"d1": 1.0}, {"d2": 1.0, "d4": 2.0}, {"d3": 1.0}]


# ------------------------------------------------------------------ errors
def test_relevant_doc_not_in_corpus() -> None:
    with pytest.raises(UnknownIdError, match="'ghost'") as info:
        small(relevant_docs={"q1": ["d1"], "q2": ["ghost"], "q3": ["d3"]})
    assert isinstance(info.value, NudgeError)
    assert "'q2'" in str(info.value)


def test_query_without_relevant_docs() -> None:
    with pytest.raises(NudgeError, match="'q3' has no relevant docs"):
        small(relevant_docs={"q1": ["d1"], "q2": ["d2"]})
    with pytest.raises(NudgeError, match="'q3' has no relevant docs"):
        small(relevant_docs={"q1": ["d1"], "q2": ["d2"], "q3": []})


def test_relevance_for_unknown_query() -> None:
    with pytest.raises(UnknownIdError, match="'q9'"):
        small(relevant_docs={"q1": ["d1"], "q2": ["d2"], "q3": ["d3"], "q9": ["d1"]})


def test_grade_for_doc_not_among_relevant_docs() -> None:
    with pytest.raises(UnknownIdError, match="'d3'"):
        small(relevance_scores={"q1": {"d3": 2.0}})


def test_duplicate_relevant_id() -> None:
    with pytest.raises(DuplicateIdError, match="'d2' twice") as info:
        small(relevant_docs={"q1": ["d1"], "q2": ["d2", "d4", "d2"], "q3": ["d3"]})
    assert isinstance(info.value, NudgeError)
    assert "'q2'" in str(info.value)


def test_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(NudgeError, match="missing corpus, relevant_docs"):
        QADataset.from_dict({"queries": {"q": "x"}})
    path = tmp_path / "partial.json"
    path.write_text(json.dumps({"corpus": {"d": "y"}, "relevant_docs": {}}))
    with pytest.raises(NudgeError, match="missing queries"):
        QADataset.from_json(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"queries": {"q": "x"},')
    with pytest.raises(NudgeError, match=r"broken\.json is not valid JSON"):
        QADataset.from_json(path)


def test_errors_are_value_errors() -> None:
    # callers that catch ValueError keep working
    with pytest.raises(ValueError, match="'ghost'"):
        small(relevant_docs={"q1": ["ghost"], "q2": ["d2"], "q3": ["d3"]})
