"""``nudge finetune`` / ``nudge evaluate`` on real files: a BEIR folder and a QA JSON, with
given ``.npy`` vectors; bad input exits 2 with one line naming the problem."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nudge_integrations.cli import main

from .corpus import python_docs_qa
from .hashing import hash_embed
from .optional import need

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The test corpus as a BEIR folder and a QA JSON, with hashed vectors as .npy + ids."""
    dataset, _ = python_docs_qa()
    root = tmp_path_factory.mktemp("cli")
    beir = root / "beir"
    (beir / "qrels").mkdir(parents=True)
    with (beir / "corpus.jsonl").open("w") as f:
        for doc, text in dataset.corpus.items():
            f.write(json.dumps({"_id": doc, "title": "", "text": text}) + "\n")
    with (beir / "queries.jsonl").open("w") as f:
        for q, text in dataset.queries.items():
            f.write(json.dumps({"_id": q, "text": text}) + "\n")
    with (beir / "qrels" / "test.tsv").open("w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, docs in dataset.relevant_docs.items():
            for d in docs:
                f.write(f"{q}\t{d}\t1\n")
    dataset.save_json(root / "qa.json")
    for name, texts in (("corpus", dataset.corpus), ("queries", dataset.queries)):
        np.save(root / f"{name}.npy", np.stack([hash_embed(t) for t in texts.values()]))
        (root / f"{name}_ids.json").write_text(json.dumps(list(texts)))
    np.save(root / "small.npy", np.ones((len(dataset.queries), 8), np.float32))
    return {"root": root, "beir": beir, "qa": root / "qa.json"}


def vector_args(files: dict[str, Path]) -> list[str]:
    r = files["root"]
    return [
        "--embeddings", str(r / "corpus.npy"), "--ids", str(r / "corpus_ids.json"),
        "--query-embeddings", str(r / "queries.npy"), "--query-ids", str(r / "queries_ids.json"),
    ]  # fmt: skip


@pytest.mark.parametrize("source", ["beir", "qa"])
def test_finetune_then_evaluate(
    files: dict[str, Path], source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["finetune", str(files[source]), *vector_args(files), "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert json.loads((out / "summary.json").read_text()) == summary
    moved = json.loads((out / "nudged_ids.json").read_text())
    vectors = np.load(out / "nudged.npy")
    assert summary["moved"] == len(moved) == vectors.shape[0] > 0
    assert vectors.shape[1] == 64 and summary["gamma"] > 0
    assert summary["refit_with_validation"] is True  # the adapters' default
    split = summary["split"]
    assert sum(split.values()) == len(python_docs_qa()[0]) and min(split.values()) > 0
    before, after = summary["test"]["no fine-tuning"], summary["test"]["NUDGE-N"]
    assert after["ndcg@10"] > before["ndcg@10"]
    code = main(["evaluate", "--corpus", str(files[source]), *vector_args(files), "--nudged",
                 str(out), "--json"])  # fmt: skip
    table = json.loads(capsys.readouterr().out)
    assert code == 0 and table["nudged"] == pytest.approx(after)
    assert table["no fine-tuning"] == pytest.approx(before)
    if "comparison.png" in summary["outputs"]:  # the plots extra: titles name the data
        from PIL.PngImagePlugin import PngImageFile

        name = files[source].stem if files[source].is_file() else files[source].name
        title = PngImageFile(out / "comparison.png").text["Title"]
        assert name in title and "test" in title, title
        assert name in PngImageFile(out / "curve.png").text["Title"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["finetune", "/nonexistent/beir"], "/nonexistent/beir does not exist"),
        (["finetune"], "pass the data"),
        (["evaluate", "{root}/corpus.npy"], "unknown format '.npy'"),
        (["finetune", "{qa}", "--embeddings", "{root}/corpus.npy"], "go together"),
        (
            ["finetune", "{qa}", "--embeddings", "{root}/corpus.npy", "--ids",
             "{root}/queries_ids.json"],
            "rows but",
        ),
        (
            ["finetune", "{qa}", "--embeddings", "{root}/corpus.npy", "--ids",
             "{root}/corpus_ids.json", "--query-embeddings", "{root}/small.npy",
             "--query-ids", "{root}/queries_ids.json"],
            "small.npy holds 8-d query vectors but the corpus vectors are 64-d",
        ),
        (["evaluate", "{qa}", "--nudged", "/nonexistent"], "not a folder written by"),
        (["finetune", "{qa}", "--variant", "X"], "invalid choice"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(
    files: dict[str, Path], args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    filled = [a.format(root=files["root"], qa=files["qa"]) for a in args]
    if "--nudged" in filled:
        filled += vector_args(files)
    with_exit = 0
    try:
        with_exit = main(filled)
    except SystemExit as exc:  # argparse usage errors
        with_exit = int(exc.code or 0)
    err = capsys.readouterr().err.strip()
    assert with_exit == 2
    assert message in err and len(err.splitlines()) == 1, err


def test_missing_ids_name_the_id(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = files["root"]
    ids = json.loads((r / "corpus_ids.json").read_text())
    (tmp_path / "ids.json").write_text(json.dumps(["other", *ids[1:]]))
    args = vector_args(files)
    args[3] = str(tmp_path / "ids.json")
    assert main(["finetune", str(files["qa"]), *args, "--out", str(tmp_path / "o")]) == 2
    assert f"e.g. {ids[0]!r}" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point_and_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nudge_integrations", "finetune", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0
    for option in ("--embeddings", "--query-ids", "--variant", "--out", "BEIR folder"):
        assert option in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "nudge_integrations", "evaluate", "/nonexistent/x"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0


def test_scifact_by_name_reproduces_the_paper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from .conftest import SCIFACT_BEIR, SCIFACT_EMB

    if not SCIFACT_BEIR.is_file():
        pytest.skip(f"{SCIFACT_BEIR} not found (../shared is absent)")
    import shutil

    (tmp_path / "data").mkdir()
    shutil.copy(SCIFACT_BEIR, tmp_path / "data" / "scifact.tar.gz")
    monkeypatch.setenv("NUDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    e = SCIFACT_EMB
    args = ["finetune", "--dataset", "scifact", "--embeddings", str(e / "corpus.npy"),
            "--ids", str(e / "corpus_ids.json"), "--query-embeddings", str(e / "queries.npy"),
            "--query-ids", str(e / "query_ids.json"), "--out", str(tmp_path / "out"),
            "--json"]  # fmt: skip
    assert main([*args, "--no-refit-with-validation"]) == 0  # the paper's reference fit
    summary = json.loads(capsys.readouterr().out)
    assert summary["split"] == {"train": 778, "val": 110, "test": 221}
    assert summary["refit_with_validation"] is False
    assert round(summary["test"]["no fine-tuning"]["ndcg@10"], 3) == 0.626
    assert round(summary["test"]["NUDGE-N"]["ndcg@10"], 3) == 0.840
    assert (summary["gamma"], summary["moved"]) == (0.2, 568)
    # the default refits with the validation queries too, as the adapters do
    # (docs/paper-comparison.md: 0.857, moved 608)
    assert main(args) == 0
    refit = json.loads(capsys.readouterr().out)
    assert refit["refit_with_validation"] is True
    assert refit["test"]["no fine-tuning"] == summary["test"]["no fine-tuning"]
    assert round(refit["test"]["NUDGE-N"]["ndcg@10"], 3) == 0.857
    assert (refit["gamma"], refit["moved"]) == (0.2, 608)


def _chroma_store(path: Path, files: dict[str, Path]) -> str:
    chromadb = need("chromadb")
    r = files["root"]
    ids = json.loads((r / "corpus_ids.json").read_text())
    vectors = np.load(r / "corpus.npy")
    col = chromadb.PersistentClient(path=str(path)).create_collection("docs")
    col.add(ids=ids, embeddings=vectors.tolist(), documents=[f"doc {i}" for i in ids])
    return f"chroma:{path}:docs"


def _faiss_store(path: Path, files: dict[str, Path]) -> str:
    faiss = need("faiss")
    r = files["root"]
    index = faiss.IndexFlatIP(64)
    index.add(np.load(r / "corpus.npy"))
    faiss.write_index(index, str(path / "index.faiss"))
    return f"faiss:{path / 'index.faiss'}:{r / 'corpus_ids.json'}"


def _stored(spec: str) -> dict[str, np.ndarray]:
    from nudge_integrations.cli.commands import open_store

    writer = open_store(spec).writer
    return writer.read(writer.all_ids())


@pytest.mark.parametrize("kind", ["chroma", "faiss"])
def test_finetune_writes_into_a_store_and_revert_restores_it(
    files: dict[str, Path], kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = (_chroma_store if kind == "chroma" else _faiss_store)(tmp_path, files)
    before = _stored(spec)
    out = tmp_path / "out"
    args = ["finetune", str(files["qa"]), *vector_args(files), "--out", str(out), "--store", spec]
    assert main(args) == 0, capsys.readouterr().err
    assert "records nudged" in capsys.readouterr().out
    moved = set(json.loads((out / "nudged_ids.json").read_text()))
    nudged = dict(zip(sorted(moved), np.load(out / "nudged.npy")[np.argsort(
        json.loads((out / "nudged_ids.json").read_text()))], strict=True))  # fmt: skip
    after = _stored(spec)  # a new client: what the store holds on disk
    for i, vec in after.items():
        np.testing.assert_allclose(vec, nudged[i] if i in moved else before[i], atol=1e-6)
    assert main(["status", "--store", spec]) == 0
    assert capsys.readouterr().out.startswith("nudged:")
    assert main(["revert", "--store", spec]) == 0
    for i, vec in _stored(spec).items():
        np.testing.assert_array_equal(vec, before[i])
    assert main(["status", "--store", spec]) == 0
    status = capsys.readouterr().out.split("\nbase: ", 1)[1]  # after revert's own line
    assert "the store holds its base vectors; last change: revert on " in status


def test_help_lists_every_registered_store(capsys: pytest.CaptureFixture[str]) -> None:
    """``--store``'s kinds come from the store registry: every store the CLI can open is
    named, LanceDB and pgvector included, and a store registered later shows up too."""
    from nudge_integrations.stores import registry

    def help_text() -> str:
        with pytest.raises(SystemExit):
            main(["finetune", "--help"])
        return " ".join(capsys.readouterr().out.split())  # argparse's wrapping undone

    kinds = registry.cli_kinds()
    assert {"faiss", "chroma", "milvus", "qdrant", "lancedb", "pgvector"} <= {e.name for e in kinds}
    text = help_text()
    for e in kinds:
        assert str(e.cli) in text, e.name
    registry.register(
        registry.StoreEntry("toy", "A toy store", "tests.nowhere", cli="toy:FOLDER:NAME")
    )
    try:
        assert "toy:FOLDER:NAME" in help_text()
        assert main(["status", "--store", "nope:x:y"]) == 2
        assert "toy" in capsys.readouterr().err  # the kinds a bad spec is told about
    finally:
        registry.unregister("toy")
    assert "toy:FOLDER:NAME" not in help_text()


def test_bad_store_specs_exit_2(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for spec, message in (
        ("pinecone:x:y", "expected KIND:PATH:NAME"),
        ("chroma:/nonexistent/db:docs", "/nonexistent/db does not exist"),
    ):
        assert main(["status", "--store", spec]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_more_bad_inputs_exit_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = files["root"]
    ids = json.loads((r / "corpus_ids.json").read_text())
    (tmp_path / "dup.json").write_text(json.dumps([ids[1], *ids[1:]]))
    args = vector_args(files)
    args[3] = str(tmp_path / "dup.json")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "text.npy").write_text("not an array")
    bad_qrels = tmp_path / "badscore"
    shutil.copytree(files["beir"], bad_qrels)
    (bad_qrels / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\td\thigh\n")
    cases = [
        (["evaluate", str(files["qa"]), *args], "twice"),
        (["finetune", str(files["qa"]), *vector_args(files), "--out", str(tmp_path / "notes.txt")],
         "is a file"),
        (["evaluate", str(files["qa"]), "--embeddings", str(tmp_path / "text.npy"), "--ids",
          str(r / "corpus_ids.json")], "is not a .npy array"),
        (["evaluate", str(bad_qrels), *vector_args(files)], "is not a number"),
        (["evaluate", str(files["qa"]), "--corpus", str(files["beir"])], "pass the data once"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_corpus_queries_and_qrels_files(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need("datasets")
    b = files["beir"]
    as_files = ["evaluate", str(b / "corpus.jsonl"), "--queries", str(b / "queries.jsonl"),
                "--qrels", str(b / "qrels" / "test.tsv"), *vector_args(files),
                "--json"]  # fmt: skip
    assert main(as_files) == 0, capsys.readouterr().err
    from_files = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(b), *vector_args(files), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_files
    assert main(["evaluate", str(b / "corpus.jsonl"), *vector_args(files)]) == 2
    assert "pass --queries FILE and --qrels FILE" in capsys.readouterr().err
