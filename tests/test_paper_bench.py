"""Smoke test of the paper-comparison benchmark (a few queries, no full fine-tune)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .optional import need

need("sklearn")
need("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_paper_benchmark_smoke(tmp_path: Path) -> None:
    from benchmarks.paper import data, run

    if not data.available():
        pytest.skip(f"SciFact data not found under {data.SHARED_DATA} (../shared is absent)")
    out = tmp_path / "paper.json"
    res = run.main(["--smoke", "--json", str(out), "--docs", str(tmp_path / "docs")])
    assert json.loads(out.read_text())["limit_queries"] == res["limit_queries"]
    names = [r["method"] for r in res["main"]]
    assert names[0] == "no fine-tuning" and "linear query adapter" in names
    assert "nudge-ft 0.1.2 NUDGE-N" in names and "adapter + NUDGE-N" in names
    ours = {r["method"]: r["metrics"]["test"]["ndcg@10"] for r in res["main"]}
    assert ours["NUDGE-N"] == pytest.approx(ours["nudge-ft 0.1.2 NUDGE-N"], abs=1e-3)
    assert {r["verdict"] for r in res["improvements"]} <= {"baseline", "chosen", "not chosen"}
    page = (tmp_path / "docs" / "paper-comparison.md").read_text()
    assert "Smoke run" in page and "## Records inserted after the fit" in page
    assert (tmp_path / "docs" / "img" / "paper-ood.png").is_file()
    again = run.main(
        ["--smoke", "--only", "improvements", "--json", str(out), "--docs", str(tmp_path / "docs")]
    )
    assert again["main"] == res["main"] and "improvements_run" in again
    assert "Improvements rerun alone" in (tmp_path / "docs" / "paper-comparison.md").read_text()


@pytest.mark.parametrize(
    "relevant", [[{}, {}], [{7: 1.0}], [{7: 1.0}, {7: 1.0}]], ids=["none", "one", "one-record"]
)
def test_full_finetune_refuses_pairs_that_give_no_batch(relevant: list[dict[int, float]]) -> None:
    """Batches of in-batch negatives need two pairs with different records: without one
    the training loop would never end, so it is refused before the model loads."""
    need("sentence_transformers")
    from benchmarks.paper.data import Queries
    from benchmarks.paper.full_finetune import full_finetune
    from nudge_integrations.core.errors import EmptyTrainingSetError

    n = len(relevant)
    train = Queries([str(i) for i in range(n)], ["q"] * n, np.zeros((n, 4), np.float32), relevant)
    with pytest.raises(EmptyTrainingSetError, match="batches of at least two"):
        full_finetune(None, train, train, box_s=1.0)  # type: ignore[arg-type]
