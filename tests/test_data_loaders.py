"""BEIR folders, Hugging Face datasets and local files into QADataset."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError
from nudge_integrations.data import QADataset, beir_splits, from_hf, load_beir, load_files

from .optional import need

SCIFACT_TAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact-beir.tar.gz"

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when content."},
    {"_id": "d2", "title": "", "text": "Dogs bark at strangers."},
    {"_id": "d3", "title": "Fish", "text": ""},
    {"_id": "d4", "title": "  Birds ", "text": " fly south. "},
]
QUERIES = [
    {"_id": "q1", "text": "why do cats purr", "metadata": {}},
    {"_id": "q2", "text": "do dogs bark", "metadata": {}},
    {"_id": "q3", "text": "where do birds go", "metadata": {}},
    {"_id": "q4", "text": "query with only a zero judgement", "metadata": {}},
    {"_id": "q5", "text": "query with no judgement at all", "metadata": {}},
]
TRAIN = [("q1", "d1", 1), ("q2", "d2", 2), ("q2", "d1", 1), ("q4", "d3", 0)]
TEST = [("q3", "d4", 2), ("q3", "d3", 0)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_qrels(path: Path, rows: list[tuple[str, str, int]]) -> None:
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_beir(
    root: Path,
    corpus: list[dict[str, Any]] = CORPUS,
    queries: list[dict[str, Any]] = QUERIES,
    train: list[tuple[str, str, int]] = TRAIN,
    test: list[tuple[str, str, int]] = TEST,
) -> Path:
    (root / "qrels").mkdir(parents=True)
    write_jsonl(root / "corpus.jsonl", corpus)
    write_jsonl(root / "queries.jsonl", queries)
    write_qrels(root / "qrels" / "train.tsv", train)
    write_qrels(root / "qrels" / "test.tsv", test)
    return root


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    return make_beir(tmp_path / "tiny")


# ------------------------------------------------------------------ BEIR
def test_beir_splits(beir: Path) -> None:
    assert beir_splits(beir) == ["test", "train"]


def test_load_beir_pooled(beir: Path) -> None:
    ds = load_beir(beir)
    assert isinstance(ds, QADataset)
    # q4 has only a score-0 judgement, q5 none: both dropped; order follows queries.jsonl
    assert ds.query_ids == ["q1", "q2", "q3"]
    assert ds.queries["q3"] == "where do birds go"
    assert ds.corpus_ids == ["d1", "d2", "d3", "d4"]
    assert ds.corpus == {
        "d1": "Cats Cats purr when content.",
        "d2": "Dogs bark at strangers.",
        "d3": "Fish",
        "d4": "Birds   fly south.",
    }
    assert ds.relevant_docs == {"q1": ["d1"], "q2": ["d2", "d1"], "q3": ["d4"]}
    assert ds.grades("q2") == {"d2": 2.0, "d1": 1.0}
    assert ds.grades("q3") == {"d4": 2.0}  # the score-0 judgement of d3 is gone


def test_corpus_text_recipe(beir: Path) -> None:
    ds = load_beir(beir)
    for row in CORPUS:
        assert ds.corpus[row["_id"]] == (row["title"] + " " + row["text"]).strip()


def test_load_beir_per_split(beir: Path) -> None:
    train = load_beir(beir, "train")
    assert train.query_ids == ["q1", "q2"]
    assert train.grades("q2") == {"d2": 2.0, "d1": 1.0}
    assert train.corpus_ids == ["d1", "d2", "d3", "d4"]  # the whole corpus is kept

    test = load_beir(beir, ["test"])
    assert test.query_ids == ["q3"]
    assert test.grades("q3") == {"d4": 2.0}

    both = load_beir(beir, ["train", "test"])
    assert both.query_ids == load_beir(beir).query_ids
    assert both.judgements() == load_beir(beir).judgements()


def test_graded_beir_survives_json(beir: Path, tmp_path: Path) -> None:
    ds = load_beir(beir)
    ds.save_json(tmp_path / "qa.json")
    back = QADataset.from_json(tmp_path / "qa.json")
    assert back.judgements() == ds.judgements()


def test_beir_repeated_judgement_keeps_the_highest(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b", train=[("q1", "d1", 1)], test=[("q1", "d1", 2)])
    assert load_beir(root).grades("q1") == {"d1": 2.0}


def test_beir_missing_corpus(beir: Path) -> None:
    (beir / "corpus.jsonl").unlink()
    with pytest.raises(NudgeError, match=r"corpus\.jsonl is missing"):
        load_beir(beir)


def test_beir_missing_qrels(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b")
    for f in (root / "qrels").iterdir():
        f.unlink()
    with pytest.raises(NudgeError, match=r"no \.tsv judgement files"):
        load_beir(root)


def test_beir_unknown_split(beir: Path) -> None:
    with pytest.raises(NudgeError, match="no qrels split 'dev'") as info:
        load_beir(beir, "dev")
    assert "['test', 'train']" in str(info.value)


def test_beir_qrels_unknown_doc(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b", test=[("q3", "d99", 1)])
    with pytest.raises(UnknownIdError, match="'d99'"):
        load_beir(root)


def test_beir_qrels_unknown_query(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b", test=[("q77", "d1", 1)])
    with pytest.raises(UnknownIdError, match="'q77'"):
        load_beir(root)


def test_beir_duplicate_corpus_id(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b", corpus=[*CORPUS, {"_id": "d2", "title": "", "text": "again"}])
    with pytest.raises(DuplicateIdError, match="'d2' twice"):
        load_beir(root)


def test_beir_duplicate_query_id(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b", queries=[*QUERIES, {"_id": "q1", "text": "again"}])
    with pytest.raises(DuplicateIdError, match="'q1' twice"):
        load_beir(root)


def test_beir_bad_jsonl_line(beir: Path) -> None:
    with (beir / "corpus.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(NudgeError, match=r"corpus\.jsonl:5 is not valid JSON"):
        load_beir(beir)


def test_beir_short_qrels_row(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td4\n")
    with pytest.raises(NudgeError, match=r"test\.tsv:2: expected query-id"):
        load_beir(beir, "test")


def test_scifact_from_shared(tmp_path: Path) -> None:
    if not SCIFACT_TAR.is_file():
        pytest.skip(f"{SCIFACT_TAR} not found (../shared/data is absent)")
    with tarfile.open(SCIFACT_TAR) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = tmp_path / "scifact"
    assert beir_splits(folder) == ["test", "train"]
    ds = load_beir(folder)
    assert len(ds.corpus) == 5183
    assert len(ds) == 1109


# ------------------------------------------------------------------ Hugging Face
def _qrel_rows(rows: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    return [{"query-id": q, "corpus-id": d, "score": s} for q, d, s in rows]


def test_from_hf_plain_lists(beir: Path) -> None:
    ds = from_hf(CORPUS, QUERIES, _qrel_rows(TRAIN + TEST))
    expected = load_beir(beir)
    assert ds == expected


def test_from_hf_datasets_objects(beir: Path) -> None:
    datasets = need("datasets")
    corpus = datasets.Dataset.from_list(CORPUS)
    queries = datasets.Dataset.from_list([{"_id": q["_id"], "text": q["text"]} for q in QUERIES])
    qrels = datasets.Dataset.from_list(_qrel_rows(TRAIN + TEST))
    ds = from_hf(corpus, queries, qrels)
    assert ds == load_beir(beir)

    # a DatasetDict holding a single split is unwrapped, as for the Hub's BEIR repos
    ds2 = from_hf(
        datasets.DatasetDict({"corpus": corpus}),
        datasets.DatasetDict({"queries": queries}),
        datasets.DatasetDict({"test": qrels}),
    )
    assert ds2 == ds


def test_from_hf_two_split_dataset_dict_raises() -> None:
    datasets = need("datasets")
    qrels = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(_qrel_rows(TRAIN)),
            "test": datasets.Dataset.from_list(_qrel_rows(TEST)),
        }
    )
    with pytest.raises(NudgeError, match=r"qrels has several splits \['test', 'train'\]"):
        from_hf(CORPUS, QUERIES, qrels)


def test_from_hf_empty_mapping_raises() -> None:
    with pytest.raises(NudgeError, match="corpus is an empty mapping"):
        from_hf({}, QUERIES, _qrel_rows(TRAIN))


def test_from_hf_rejects_non_iterables() -> None:
    with pytest.raises(NudgeError, match="queries must be"):
        from_hf(CORPUS, "queries.jsonl", _qrel_rows(TRAIN))
    with pytest.raises(NudgeError, match="qrels must be"):
        from_hf(CORPUS, QUERIES, 3)


def test_from_hf_custom_fields() -> None:
    ds = from_hf(
        [{"pid": "p1", "body": "alpha", "heading": "A"}, {"pid": "p2", "body": "beta"}],
        [{"pid": "x", "body": "first letter"}],
        [{"qid": "x", "doc": "p1", "rel": 3}],
        id_field="pid",
        text_field="body",
        title_field="heading",
        query_id_field="qid",
        doc_id_field="doc",
        score_field="rel",
    )
    assert ds.corpus == {"p1": "A alpha", "p2": "beta"}
    assert ds.queries == {"x": "first letter"}
    assert ds.grades("x") == {"p1": 3.0}


def test_from_hf_missing_id_field() -> None:
    with pytest.raises(NudgeError, match="corpus row 1 has no '_id' field"):
        from_hf([{"_id": "a", "text": "x"}, {"id": "b", "text": "y"}], [], [])


# ------------------------------------------------------------------ local files
def test_load_files_jsonl_and_tsv_keep_string_ids(tmp_path: Path) -> None:
    need("datasets")
    corpus = tmp_path / "corpus.jsonl"
    queries = tmp_path / "queries.jsonl"
    qrels = tmp_path / "qrels.tsv"
    write_jsonl(
        corpus,
        [
            {"_id": "007", "title": "Bond", "text": "A spy."},
            {"_id": "010", "title": "", "text": "Ten."},
            {"_id": "NA", "title": "NA", "text": "not a missing value"},
        ],
    )
    write_jsonl(queries, [{"_id": "001", "text": "who is bond"}, {"_id": "002", "text": "ten"}])
    write_qrels(qrels, [("001", "007", 2), ("002", "010", 1), ("002", "NA", 0)])

    ds = load_files(corpus, queries, qrels)
    assert ds.corpus == {"007": "Bond A spy.", "010": "Ten.", "NA": "NA not a missing value"}
    assert ds.queries == {"001": "who is bond", "002": "ten"}
    assert ds.relevant_docs == {"001": ["007"], "002": ["010"]}
    assert ds.grades("001") == {"007": 2.0}


def test_load_files_csv(tmp_path: Path) -> None:
    need("datasets")
    corpus = tmp_path / "corpus.csv"
    corpus.write_text('_id,title,text\n0042,T,"hello, world"\n0043,,bye\n', encoding="utf-8")
    queries = tmp_path / "queries.csv"
    queries.write_text("_id,text\n01,greeting\n", encoding="utf-8")
    qrels = tmp_path / "qrels.csv"
    qrels.write_text("query-id,corpus-id,score\n01,0042,1\n", encoding="utf-8")
    ds = load_files(corpus, queries, qrels)
    assert ds.corpus == {"0042": "T hello, world", "0043": "bye"}
    assert ds.relevant_docs == {"01": ["0042"]}


def test_load_files_parquet(tmp_path: Path, beir: Path) -> None:
    datasets = need("datasets")
    paths = {name: tmp_path / f"{name}.parquet" for name in ("corpus", "queries", "qrels")}
    datasets.Dataset.from_list(CORPUS).to_parquet(str(paths["corpus"]))
    datasets.Dataset.from_list([{"_id": q["_id"], "text": q["text"]} for q in QUERIES]).to_parquet(
        str(paths["queries"])
    )
    datasets.Dataset.from_list(_qrel_rows(TRAIN + TEST)).to_parquet(str(paths["qrels"]))
    ds = load_files(paths["corpus"], paths["queries"], paths["qrels"])
    assert ds == load_beir(beir)


def test_load_files_unsupported_suffix(tmp_path: Path) -> None:
    need("datasets")
    bad = tmp_path / "corpus.xlsx"
    bad.write_text("x")
    ok = tmp_path / "queries.jsonl"
    write_jsonl(ok, QUERIES)
    with pytest.raises(NudgeError, match=r"corpus\.xlsx: unsupported file type"):
        load_files(bad, ok, ok)


def test_load_files_missing_file(tmp_path: Path) -> None:
    need("datasets")
    with pytest.raises(NudgeError, match=r"nothere\.jsonl does not exist"):
        load_files(tmp_path / "nothere.jsonl", tmp_path / "q.jsonl", tmp_path / "r.tsv")
