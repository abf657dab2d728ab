"""``nudge finetune --store ... --native`` on real persistent stores (a FAISS index file,
a Chroma folder): the same fit as the in-memory CLI fit, swapped into the store and
reverted from its ledger; refusals exit 2 with one line and leave the store untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.cli import main

from .optional import need
from .test_cli import _chroma_store, _faiss_store, _stored, files, vector_args  # noqa: F401


def query_args(files: dict[str, Path]) -> list[str]:  # noqa: F811
    """Only the query vectors: a native fit reads the corpus vectors from the store."""
    return vector_args(files)[4:]


def moved_vectors(out: Path) -> dict[str, np.ndarray]:
    """The moved vectors a finetune run wrote, by id."""
    ids = json.loads((out / "nudged_ids.json").read_text())
    return dict(zip(ids, np.load(out / "nudged.npy"), strict=True))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """``main(argv + --json)``; the printed summary."""
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary: dict[str, Any] = json.loads(captured.out)
    return summary


@pytest.mark.parametrize("kind", ["faiss", "chroma"])
def test_native_fit_equals_the_in_memory_fit_and_reverts(
    files: dict[str, Path],  # noqa: F811
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = (_chroma_store if kind == "chroma" else _faiss_store)(tmp_path, files)
    before = _stored(spec)
    qa = str(files["qa"])
    plain = run(["finetune", qa, *vector_args(files), "--out", str(tmp_path / "plain")], capsys)
    native = run(
        ["finetune", qa, *query_args(files), "--out", str(tmp_path / "native"), "--store",
         spec, "--native"],
        capsys,
    )  # fmt: skip
    assert native["native"] is True and plain["native"] is False
    assert native["gamma"] == plain["gamma"] and native["moved"] == plain["moved"]
    np.testing.assert_allclose(native["curve"], plain["curve"], rtol=0, atol=1e-12)
    want = moved_vectors(tmp_path / "plain")
    got = moved_vectors(tmp_path / "native")
    assert got.keys() == want.keys() and want
    for i, vec in got.items():
        np.testing.assert_allclose(vec, want[i], rtol=0, atol=1e-5)

    # the store, read back by a new client, holds the nudged vectors and nothing else moved
    after = _stored(spec)
    assert after.keys() == before.keys()
    for i, vec in after.items():
        np.testing.assert_allclose(vec, got[i] if i in got else before[i], rtol=0, atol=1e-6)
    st = native["store"]
    assert st["written"] == len(got) and st["missing"] == []

    # the test split scored through the store's own search: before the swap it serves the
    # base ranking, after it the nudged one (both equal the in-memory fit's exact table)
    table = native["test"]
    assert table["store before"] == pytest.approx(plain["test"]["no fine-tuning"], abs=1e-9)
    assert table["store after"] == pytest.approx(plain["test"]["NUDGE-N"], abs=1e-9)
    assert table["store after"]["ndcg@10"] > table["store before"]["ndcg@10"]

    assert main(["status", "--store", spec]) == 0
    assert capsys.readouterr().out.startswith("nudged:")
    assert main(["revert", "--store", spec]) == 0
    capsys.readouterr()
    for i, vec in _stored(spec).items():
        np.testing.assert_array_equal(vec, before[i])


def test_native_refit_on_a_nudged_store_takes_bases_from_the_ledger(
    files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A second native fit on the store it nudged competes from the ledger's base vectors
    (never compounds the first nudge): the same fit again, and revert still gives the
    original vectors back."""
    spec = _faiss_store(tmp_path, files)
    before = _stored(spec)
    argv = ["finetune", str(files["qa"]), *query_args(files), "--store", spec, "--native"]
    first = run([*argv, "--out", str(tmp_path / "a")], capsys)
    second = run([*argv, "--out", str(tmp_path / "b")], capsys)
    assert second["gamma"] == first["gamma"] and second["moved"] == first["moved"]
    a, b = moved_vectors(tmp_path / "a"), moved_vectors(tmp_path / "b")
    assert a.keys() == b.keys()
    for i, vec in b.items():
        np.testing.assert_allclose(vec, a[i], rtol=0, atol=1e-6)
    assert any("ledger" in note for note in second.get("notes", []))
    # the same fit again: the store already holds it, so nothing is written
    assert second["store"]["written"] == 0 and second["store"]["unchanged"] == first["moved"]
    assert main(["revert", "--store", spec]) == 0
    for i, vec in _stored(spec).items():
        np.testing.assert_array_equal(vec, before[i])


def _cosine_chroma(path: Path, files: dict[str, Path]) -> str:  # noqa: F811
    chromadb = need("chromadb")
    r = files["root"]
    ids = json.loads((r / "corpus_ids.json").read_text())
    col = chromadb.PersistentClient(path=str(path)).create_collection(
        "docs", metadata={"hnsw:space": "cosine"}
    )
    col.add(ids=ids, embeddings=np.load(r / "corpus.npy").tolist())
    return f"chroma:{path}:docs"


def test_native_refusals_exit_2_and_leave_the_store_alone(
    files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = _cosine_chroma(tmp_path / "chroma", files)
    before = _stored(spec)
    qa = str(files["qa"])
    cases = [
        (["--native"], "--native fits against the store named by --store"),
        (["--native", "--store", spec, *vector_args(files)[:4]],
         "--native reads the corpus vectors from --store"),
        (["--native", "--store", spec, "--variant", "M"],
         "ranks by cosine, which would silently mis-rank them: pass --variant N"),
        (["--store", spec, *vector_args(files)[:4], "--variant", "M"], "pass --variant N"),
    ]  # fmt: skip
    for extra, message in cases:
        out = tmp_path / "out"
        argv = ["finetune", qa, *query_args(files), "--out", str(out), *extra]
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert "as_retriever" not in err
        assert not out.exists()  # refused before any fit or output
    after = _stored(spec)
    for i, vec in after.items():
        np.testing.assert_array_equal(vec, before[i])
