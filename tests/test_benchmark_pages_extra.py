"""The chunk-relevance block of ``docs/ids.md`` and the swap-speed table of
``docs/ledger.md`` are generated from their results files, and what they conclude follows
the numbers: change a copy of the JSON and the words change with it."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.pages import chunk_relevance, swap_speed

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _chunks() -> dict[str, Any]:
    path = RESULTS / "chunk-relevance.json"
    if not path.is_file():
        pytest.skip("no benchmarks/results/chunk-relevance.json recorded")
    data: dict[str, Any] = json.loads(path.read_text())
    return copy.deepcopy(data)


def _set(data: dict[str, Any], variant: str, rule: str, ndcg: float) -> None:
    data["rows"][f"NUDGE-{variant}, {rule} chunks"]["ndcg@10"] = ndcg


def _said(data: dict[str, Any], scifact: dict[str, Any] | None = None) -> str:
    """The chunk-relevance block with its line wrapping undone."""
    return " ".join(chunk_relevance.results_block(data, scifact).split())


def test_both_pages_are_generated_by_the_report() -> None:
    paths = {p.path for p in report.PAGES if p.blocks is not None}
    assert {"docs/ids.md", "docs/ledger.md"} <= paths
    for path in ("docs/ids.md", "docs/ledger.md"):
        page = next(p for p in report.PAGES if p.path == path)
        assert (ROOT / path).read_text() == page.expected(ROOT, RESULTS), f"{path} is stale"


def test_chunk_relevance_conclusions_flip_with_the_numbers() -> None:
    data = _chunks()
    data["rows"]["no fine-tuning"]["ndcg@10"] = 0.70
    _set(data, "N", "all", 0.905)
    _set(data, "N", "best", 0.900)
    _set(data, "M", "all", 0.845)
    _set(data, "M", "best", 0.865)
    said = _said(data)
    assert "Both rules help a lot over no fine-tuning (0.700" in said
    assert "For NUDGE-N pulling every chunk is slightly better (0.905 vs 0.900" in said
    assert 'is clearly better (0.865 vs 0.845 NDCG@10): pass `relevant_chunks="best"`' in said
    _set(data, "N", "all", 0.880)  # now the best chunk wins for NUDGE-N too
    _set(data, "M", "best", 0.8455)  # and NUDGE-M's rules tie
    said = _said(data)
    assert "For NUDGE-N pulling the best chunk is clearly better (0.900 vs 0.880" in said
    assert 'pass `relevant_chunks="best"` with `variant="N"`' in said
    assert "For NUDGE-M the two rules tie" in said and 'variant="M"' not in said
    data["rows"]["no fine-tuning"]["ndcg@10"] = 0.95  # no fit beats the base vectors
    assert "No fit helps over no fine-tuning (0.950" in _said(data)


def test_chunk_relevance_grid_scope_and_reduced_run_follow_the_record() -> None:
    data = _chunks()
    top = data["settings"]["n_gamma_grid_max"]
    for rule in chunk_relevance.RULES:
        data["rows"][f"NUDGE-N, {rule} chunks"]["gamma"] = top / 2
    assert "top of the reference grid" not in _said(data)
    data["rows"]["NUDGE-N, all chunks"]["gamma"] = top
    said = _said(data)
    assert f'top of the reference grid ({top:g}) under "all"' in said
    scifact = {"baseline_ndcg10": 0.99, "N": {"ours_ndcg10": 0.995}}
    said = _said(data, scifact)
    assert "sit below the full-corpus ones (0.990 -> 0.995" in said
    assert "Reduced run" not in chunk_relevance.run_block(data)
    data["settings"]["extra"] = 200
    said = chunk_relevance.run_block(data)
    assert "**Reduced run**: 200 unjudged documents" in said
    assert f"({data['settings']['judged']} judged + 200 others)" in said
    assert chunk_relevance.run_block(None).startswith("Not measured")


def _swap_results(tmp: Path) -> Path:
    for path in RESULTS.glob("swap-speed-*.json"):
        shutil.copy(path, tmp / path.name)
    return tmp


def test_ledger_table_follows_the_swap_speed_json(tmp_path: Path) -> None:
    results = _swap_results(tmp_path)
    files = sorted(results.glob("swap-speed-*.json"))
    assert files, "no swap-speed results recorded"
    path = files[0]
    data = json.loads(path.read_text())
    data["chroma"]["swap1"]["seconds"] = 2 * data["chroma"]["own_update_s"]
    data["chroma"]["revert"]["seconds"] = 1.5 * data["chroma"]["own_update_back_s"]
    data.pop("run", None)
    path.write_text(json.dumps(data))
    block = swap_speed.blocks(results)["ledger-swap-speed"]()
    row = next(ln for ln in block.splitlines() if f"`{path.name}`" in ln)
    own = data["chroma"]["own_update_s"]
    assert f"| {2 * own:.1f} s / {own:.1f} s |" in row
    back = data["chroma"]["own_update_back_s"]
    assert f"| {1.5 * back:.1f} s / {back:.1f} s |" in row
    assert "command not recorded, date not recorded" in row
    assert "took" in block and "to 2.00x the time" in " ".join(block.split())
    assert f"not recorded in `{path.name}`" in " ".join(block.split())
    data["run"] = {"command": "python benchmarks/bench_swap_speed.py", "date_utc": "D UTC"}
    path.write_text(json.dumps(data))
    block = swap_speed.blocks(results)["ledger-swap-speed"]()
    assert "`python benchmarks/bench_swap_speed.py`, D UTC" in block
    for other in files:
        other.unlink()
    assert swap_speed.blocks(results)["ledger-swap-speed"]().startswith("Not measured")
