"""The benchmark pages are what ``python -m benchmarks.report`` writes from
``benchmarks/results``: no page is stale, a deleted generated table comes back byte for
byte, and the conclusions beside the numbers follow the numbers."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.pages import blocks, floor, query_embedding, targets
from benchmarks.paper import choice, tables

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCK_PAGES = [p for p in report.PAGES if p.blocks is not None]


@pytest.mark.parametrize("page", report.PAGES, ids=lambda p: p.path)
def test_page_is_what_the_report_writes(page: report.Page) -> None:
    want = page.expected(ROOT, RESULTS)
    got = (ROOT / page.path).read_text()
    assert got == want, f"{page.path} is stale: run python -m benchmarks.report"


def _copy_pages(tmp: Path) -> None:
    for page in report.PAGES:
        (tmp / page.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / page.path, tmp / page.path)


@pytest.mark.parametrize("page", BLOCK_PAGES, ids=lambda p: p.path)
def test_emptied_blocks_come_back_byte_for_byte(page: report.Page, tmp_path: Path) -> None:
    _copy_pages(tmp_path)
    path = tmp_path / page.path
    text = path.read_text()
    emptied = blocks._BLOCK.sub(lambda m: m.group("start") + m.group("end"), text)
    assert emptied != text and blocks.names(emptied) == blocks.names(text)
    path.write_text(emptied)
    assert report.main(["--root", str(tmp_path), "--no-plots"]) == 0
    assert path.read_bytes() == (ROOT / page.path).read_bytes()


def test_a_deleted_table_of_a_whole_page_comes_back(tmp_path: Path) -> None:
    _copy_pages(tmp_path)
    path = tmp_path / "docs" / "benchmarks.md"
    kept = [ln for ln in path.read_text().splitlines(keepends=True) if not ln.startswith("|")]
    path.write_text("".join(kept))
    assert report.main(["--root", str(tmp_path), "--check"]) == 1
    assert report.main(["--root", str(tmp_path), "--no-plots"]) == 0
    assert path.read_bytes() == (ROOT / "docs" / "benchmarks.md").read_bytes()
    assert report.main(["--root", str(tmp_path), "--check"]) == 0


def test_a_lost_marker_is_an_error_naming_it(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "scale.md").read_text()
    broken = text.replace("<!-- generated: benchmarks.report targets -->\n", "", 1)
    with pytest.raises(blocks.PageError, match=r"missing markers \['targets'\]"):
        blocks.fill(broken, report.scale_blocks(RESULTS), "docs/scale.md")


def _fvf() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RESULTS / "fit-vs-floor.json").read_text())
    return data


def _run(fvf: dict[str, Any], n: int) -> dict[str, Any]:
    return next(r for r in fvf["runs"] if r["n"] == n)


def test_met_follows_the_numbers_beside_it() -> None:
    fvf = _fvf()
    run = _run(fvf, 100_000)
    floor_s = min(run["seconds"][floor.FLOOR])
    for fit in floor.FITS:  # both fits at 1.05x the floor: the 1.2x target is met
        run["seconds"][fit] = [1.05 * floor_s]
    _, text, ok = targets.in_memory(fvf, 100_000, 1.2)
    assert ok is True and "NUDGE-N 1.05x" in text
    run["seconds"]["NudgeM fit"] = [1.3 * floor_s]
    assert targets.in_memory(fvf, 100_000, 1.2)[2] is False
    assert "| no |" in targets.targets_block(fvf, {}, None)


def test_floor_at_the_fits_k_is_shown_only_where_it_was_timed() -> None:
    fvf = _fvf()
    run = _run(fvf, 100_000)
    run.pop("fit_k", None)
    for k in (1, 2):
        run["seconds"].pop(floor.floor_at(k), None)
    assert "- / -" in floor.table_row(run)  # not timed: "-", never a made-up number
    base = min(run["seconds"][floor.FLOOR])
    run["seconds"][floor.floor_at(1)] = [base / 2]
    run["seconds"][floor.floor_at(2)] = [base / 2]
    row = floor.table_row(run)
    assert "- / -" not in row and f"{base / 2:.3f} s / {base / 2:.3f} s" in row
    assert targets.at_fit_k(fvf, 100_000, 1.1)[2] is False  # fits take > 2x a halved floor


def test_query_embedding_conclusions_follow_the_numbers() -> None:
    data = json.loads((RESULTS / "query-embedding.json").read_text())
    one, threads, batches = data["modes"]
    data["loadavg_start"][0] = data["loadavg_end"][0] = 1.0  # a quiet machine
    data["run"]["machine"]["affinity_cores"] = data["run"]["machine"]["torch_threads"] = 2
    one["seconds"], one["cpu_seconds"] = [3.0, 3.0, 3.0], [6.0, 6.0, 6.0]
    threads["seconds"], batches["seconds"] = [2.9, 2.9, 2.9], [1.0, 1.0, 1.0]
    said = query_embedding.modes_sentence(data)
    assert said.startswith("- On this local CPU model, batches pay (3.0x)")
    assert "threads change little (1.0x): torch already runs the model on 2 threads" in said
    batches["seconds"] = [6.0, 6.0, 6.0]
    assert "batches are slower (0.5x)" in query_embedding.modes_sentence(data)
    data["others_cpu_share"] = 0.3  # others' work beside it: said, not generalised
    said = query_embedding.modes_sentence(data)
    assert said.startswith("- This run was contended: other processes used 30%")
    data["others_cpu_share"] = 0.02  # its own threads raise the load, not others' work
    data["loadavg_end"][0] = 5.0
    assert query_embedding.modes_sentence(data).startswith("- On this local CPU model")
    del data["others_cpu_share"]  # runs that did not record it: the load average decides
    assert query_embedding.modes_sentence(data).startswith("- This run was contended")
    data["settings"].update(n=30, repeats=1, reduced=True)
    assert "**Reduced run**: 30 questions and 1 repeat" in query_embedding.block(data)
    assert query_embedding.block(None).startswith("Not measured")


def _rows() -> list[dict[str, Any]]:
    paper = json.loads((RESULTS / "paper.json").read_text())
    return copy.deepcopy(paper["improvements"])


def test_the_choice_reads_validation_only() -> None:
    rows = _rows()
    by = {(r["variant"], r["candidate"]): r for r in rows}
    hard = by[("N", "hard negatives, weight 1.0")]
    hard["test"] = hard["ood_id"] = hard["ood_ood"] = 1.0  # a candidate test would love
    assert choice.choose(rows)[("N", "faithful (hit@1)")] != hard["candidate"]
    hard["val"] = 0.99  # validation alone moves the choice
    assert choice.choose(rows)[("N", "faithful (hit@1)")] == hard["candidate"]


def test_a_baseline_stays_unless_beaten_by_the_margin() -> None:
    rows = _rows()
    base = next(r for r in rows if r["variant"] == "M" and r["candidate"] == "faithful (hit@1)")
    for r in rows:
        if r["variant"] == "M" and r["baseline"] == base["candidate"]:
            r["val"] = base["val"] + choice.MARGIN / 2
    assert choice.choose(rows)[("M", base["candidate"])] == base["candidate"]
    assert "the baseline stays" in "\n".join(tables.choices(rows))


def test_a_method_that_did_not_move_anything_says_whose_vectors_it_has() -> None:
    row: dict[str, Any] = {"method": "adapter + NUDGE-N", "info": {"gamma": 0.0, "moved": 0}}
    assert "the same vectors as *linear query adapter*" in tables.label(row)
    row["info"]["gamma"] = 0.04
    assert tables.label(row) == "adapter + NUDGE-N"


def test_merging_a_run_keeps_the_other_sizes(tmp_path: Path) -> None:
    from benchmarks.bench_fit_vs_floor import merge

    path = tmp_path / "fvf.json"
    path.write_text(json.dumps(_fvf()))
    new = {"n": 100_000, "seconds": {}, "run": {"command": "new"}}
    merged = merge(path, [new])
    assert [r["n"] for r in merged["runs"]] == [100_000, 1_000_000]
    assert merged["runs"][0] is not None and merged["runs"][0]["run"]["command"] == "new"
    assert merged["command"] == _fvf()["command"]  # the older run's record stays


def test_a_results_record_names_versions_and_threads() -> None:
    import faiss  # noqa: F401  (so its thread pools are loaded and recorded)

    from benchmarks.machine import pin_threads, record

    n = pin_threads()
    got = record("python -m something", packages=("chromadb",))
    assert got["command"] == "python -m something" and got["date_utc"].endswith("UTC")
    assert {"numpy", "torch", "faiss-cpu", "chromadb"} <= set(got["versions"])
    assert got["threads"]["torch"] == n and got["threads"]["faiss_omp"] == n
    pools = got["threads"]["pools"]
    if isinstance(pools, list):  # threadpoolctl installed: numpy's BLAS is pinned too
        blas = [p for p in pools if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == n for p in blas)


@pytest.mark.slow
def test_bench_fit_measures_what_its_page_renders(tmp_path: Path) -> None:
    """The split bench_fit.py keeps its command and its results format (about 40 s)."""
    import subprocess
    import sys

    out = tmp_path / "fit.md"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_fit.py"), "--sizes", "3000"]
    cmd += ["--results-dir", str(tmp_path), "--out", str(out), "--skip-scifact", "--repeats", "1"]
    cmd += ["--no-profile", "--max-wait", "0", "--skip-reference"]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    res = json.loads((tmp_path / "fit-3000.json").read_text())
    assert {"floor", "floor_at_k", "ours", "memory", "run", "machine", "started"} <= set(res)
    assert res["ours"]["N"]["fit_k"] == 1 and res["ours"]["M"]["fit_k"] == 2
    again = tmp_path / "again.md"
    rerender = [*cmd[:2], "--sizes", "3000", "--results-dir", str(tmp_path)]
    rerender += ["--out", str(again), "--from-json", "--skip-scifact"]
    subprocess.run(rerender, check=True, cwd=ROOT, capture_output=True)
    assert again.read_bytes() == out.read_bytes()
    floor_cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_fit_vs_floor.py")]
    floor_cmd += ["--n", "3000", "--repeats", "1", "--json", str(tmp_path / "fvf.json")]
    subprocess.run(floor_cmd, check=True, cwd=ROOT, capture_output=True)
    run = json.loads((tmp_path / "fvf.json").read_text())["runs"][0]
    assert {floor.floor_at(k) for k in (10, 1, 2)} <= set(run["seconds"]) and "run" in run


def _results_copy(tmp: Path) -> Path:
    """A copy of ``benchmarks/results`` that a test may change."""
    out = tmp / "results"
    shutil.copytree(RESULTS, out)
    return out


def _edit(results: Path, name: str, change: Any) -> None:
    data = json.loads((results / name).read_text())
    change(data)
    (results / name).write_text(json.dumps(data))


def test_readme_scifact_figures_follow_paper_json(tmp_path: Path) -> None:
    from benchmarks.pages import readme

    paper = json.loads((RESULTS / "paper.json").read_text())
    recorded = readme.row(paper, readme.DEFAULT)
    text = (ROOT / "README.md").read_text()
    ndcg = f"| NUDGE-N        | {recorded['metrics']['test']['ndcg@10']:.4f}"
    assert ndcg in text and f"moved {recorded['info']['moved']} of" in text
    results = _results_copy(tmp_path)

    def change(data: dict[str, Any]) -> None:
        fit = readme.row(data, readme.DEFAULT)
        fit["metrics"]["test"]["ndcg@10"], fit["info"]["moved"] = 0.1234, 999
        data["sizes"]["train"] = 700
        readme.row(data, readme.PAPER_WAY)["metrics"]["test"]["ndcg@10"] = 0.5

    _edit(results, "paper.json", change)
    page = next(p for p in report.PAGES if p.path == "README.md")
    got = page.expected(ROOT, results)
    assert got != text and "| NUDGE-N        | 0.1234" in got and "moved 999 of 5183" in got
    assert "fits on 700 training" in got and "(test NDCG@10 0.5000)" in got
    assert "nudge-ft 0.1.2) gives 0.8400" in readme.cli_paper_way(
        json.loads((results / "paper.json").read_text())
    )


def test_scripts_table_takes_the_newest_recorded_command(tmp_path: Path) -> None:
    from benchmarks.pages import scripts

    results = _results_copy(tmp_path)

    def change(data: dict[str, Any]) -> None:
        data["runs"][0]["run"].update(command="bench --repeats 7", date_utc="2099-01-01 UTC")

    _edit(results, "fit-vs-floor.json", change)
    _edit(results, "query-embedding.json", lambda d: d["run"].pop("date_utc"))
    block = scripts.scripts_block(results)
    assert "`bench --repeats 7` (its newest run, 2099-01-01 UTC)" in block
    assert "- `query-embedding.json`: date" in block
    assert "`paper/report.py`" in block


def test_deployment_counts_follow_the_moved_records() -> None:
    from benchmarks.pages import deployment, scale

    data = scale.load(RESULTS)
    data[max(data)]["cases"]["memmap-N"]["n_moved"] = 10_000
    block = deployment.deployment_block(data, None)
    assert "write moved vectors (~10,000 records)" in block and "| ~15 MB |" in block
    assert "(touched + validation-relevant, ~11,000)" in block


def test_adapter_and_store_native_sentences_follow_their_files() -> None:
    from benchmarks.pages import adapters, store_native

    ev = json.loads((RESULTS / "eval.json").read_text())
    ev["index_build_seconds"] = 12.0
    ev["rows"][0]["old_seconds"] = ev["rows"][0]["queries"] * 0.5  # 500 ms a query
    block = adapters.eval_block(ev)
    assert "embeds nothing: 12.0 s" in block and "about 500 ms a query" in block
    native = json.loads((RESULTS / "store-native.json").read_text())
    own = next(
        r for r in native["results"] if r["store"] == "qdrant-own-search" and r["n"] == 10**6
    )
    own["native_peak_growth_gb"] = 5.72
    assert "are 2.86 GB: 50% of the +5.72 GB" in store_native.qdrant_block(native)
