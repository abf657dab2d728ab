"""Problems in judgement (qrels) files are named ``file:line`` wherever they are found,
and a qrels file without judgements says so, for BEIR folders, local files and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nudge_integrations.cli import main
from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError
from nudge_integrations.data import load_beir, load_files

HEADER = "query-id\tcorpus-id\tscore\n"


def beir(root: Path, test: str, train: str | None = None, corpus_extra: str = "") -> Path:
    """A tiny BEIR folder: docs d1, d2; queries q1, q2; qrels as given (raw text)."""
    (root / "qrels").mkdir(parents=True)
    docs = [{"_id": "d1", "text": "cats"}, {"_id": "d2", "text": "dogs"}]
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps(d) + "\n" for d in docs) + corpus_extra, encoding="utf-8"
    )
    queries = [{"_id": "q1", "text": "cat?"}, {"_id": "q2", "text": "dog?"}]
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels" / "test.tsv").write_text(test, encoding="utf-8")
    if train is not None:
        (root / "qrels" / "train.tsv").write_text(train, encoding="utf-8")
    return root


def test_an_unknown_id_is_named_by_file_and_line(tmp_path: Path) -> None:
    rows = "q1\td1\t1\n" * 339  # lines 2 to 340; the 340th judgement, on line 341
    root = beir(tmp_path / "b", HEADER + rows + "q1\td99\t1\n")
    qrels = root / "qrels" / "test.tsv"
    with pytest.raises(UnknownIdError, match=rf"^{qrels}:341 names doc 'd99', not in the corpus"):
        load_beir(root)
    # a blank line counts as a line; a query unknown in the second split file
    root = beir(tmp_path / "c", HEADER + "q2\td2\t1\n", train=HEADER + "q1\td1\t1\n\nq7\td1\t1\n")
    with pytest.raises(UnknownIdError, match=rf"{root / 'qrels' / 'train.tsv'}:4 names query"):
        load_beir(root)


def test_a_duplicate_corpus_id_is_named_by_line(tmp_path: Path) -> None:
    root = beir(tmp_path / "b", HEADER + "q1\td1\t1\n", corpus_extra='\n{"_id": "d2"}\n')
    with pytest.raises(DuplicateIdError, match=rf"{root / 'corpus.jsonl'}:4: doc id 'd2' twice"):
        load_beir(root)


def test_a_qrels_file_without_judgements_says_so(tmp_path: Path) -> None:
    root = beir(tmp_path / "b", HEADER)
    with pytest.raises(NudgeError, match=rf"^no judgements in {root / 'qrels' / 'test.tsv'}"):
        load_beir(root)
    root = beir(tmp_path / "c", HEADER + "q1\td1\t0\nq2\td2\t0\n")
    with pytest.raises(NudgeError, match=r"no positive judgements in .*test\.tsv: its 2 rows"):
        load_beir(root)


def test_the_cli_names_the_empty_file_and_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = beir(tmp_path / "empty", HEADER, train=HEADER)
    assert main(["evaluate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no judgements in" in err and "test.tsv" in err and "at least 10" not in err
    bad = beir(tmp_path / "bad", HEADER + "q1\td1\t1\nq2\tnope\t1\n")
    assert main(["finetune", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert f"{bad / 'qrels' / 'test.tsv'}:3 names doc 'nope'" in capsys.readouterr().err


def test_local_files_name_their_lines(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    corpus, queries = tmp_path / "corpus.jsonl", tmp_path / "queries.jsonl"
    corpus.write_text('{"_id": "d1", "text": "cats"}\n\n{"_id": "d1", "text": "again"}\n')
    queries.write_text('{"_id": "q1", "text": "cat?"}\n')
    tsv = tmp_path / "qrels.tsv"
    tsv.write_text(HEADER + "q1\td1\t1\n")
    with pytest.raises(DuplicateIdError, match=rf"{corpus}:3: doc id 'd1' twice"):
        load_files(corpus, queries, tsv)
    corpus.write_text('{"_id": "d1", "text": "cats"}\n')
    tsv.write_text(HEADER + "q1\td1\t1\n\nq1\tzz\t1\n")
    with pytest.raises(UnknownIdError, match=rf"{tsv}:4 names doc 'zz'"):
        load_files(corpus, queries, tsv)
    csv_file = tmp_path / "qrels.csv"
    csv_file.write_text("query-id,corpus-id,score\nq1,d1,1\nq1,d1,high\n")
    with pytest.raises(NudgeError, match=rf"{csv_file}:3: score 'high' is not a number"):
        load_files(corpus, queries, csv_file)
    csv_file.write_text("query-id,corpus-id,score\n")
    with pytest.raises(NudgeError, match=rf"no judgements in {csv_file}"):
        load_files(corpus, queries, csv_file)
