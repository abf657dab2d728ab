"""Pictures of a fit: the gamma curve and the before/after bar chart, saved as real images."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image as mpimg
from matplotlib.figure import Figure

from nudge_integrations import NudgeError, NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.plots import merge_equal_columns, plot_comparison, plot_curve
from nudge_integrations.core.report import evaluate_embeddings

from .conftest import Problem, make_problem

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small() -> Problem:
    return make_problem(n=400, n_train=120, n_val=40)


@pytest.fixture(scope="module")
def fits(small: Problem) -> dict[str, NudgeN | NudgeM]:
    p = small
    fitted: dict[str, NudgeN | NudgeM] = {"NUDGE-N": NudgeN(device="cpu"), "NUDGE-M": NudgeM()}
    for est in fitted.values():
        est.set_params(device="cpu").fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
    return fitted


def assert_png(path: Path) -> tuple[int, ...]:
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_SIGNATURE
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    return tuple(image.shape)


def line_by_gid(fig: Figure, gid: str) -> tuple[list[float], list[float]]:
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == gid]
    xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    return xs.tolist(), ys.tolist()


@pytest.mark.parametrize("label", ["NUDGE-N", "NUDGE-M"])
def test_curve_png_marks_the_chosen_gamma(
    fits: dict[str, NudgeN | NudgeM], label: str, tmp_path: Path
) -> None:
    res = fits[label].result_
    path = tmp_path / "curve.png"
    fig = plot_curve(res, path)
    assert isinstance(fig, Figure)
    assert assert_png(path)[:2] == (420, 640)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "gamma"
    assert ax.get_ylabel() == "validation hit@1"
    assert ax.get_title() == f"NUDGE-{res.variant}: validation hit@1 by gamma"
    assert line_by_gid(fig, "chosen-gamma")[0] == [res.gamma, res.gamma]
    assert line_by_gid(fig, "chosen-point") == ([res.gamma], [res.curve[res.gamma]])
    curve_line = ax.get_lines()[0]
    assert list(curve_line.get_xdata()) == sorted(res.curve)  # type: ignore[arg-type]
    legend = ax.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert f"chosen gamma = {res.gamma:.4g}" in texts
    assert any(t.startswith("no fine-tuning") for t in texts)


def test_result_plot_curve_method_saves_svg_and_png(
    fits: dict[str, NudgeN | NudgeM], tmp_path: Path
) -> None:
    res = fits["NUDGE-M"].result_
    fig = res.plot_curve(tmp_path / "m.png", title="mine")
    assert_png(tmp_path / "m.png")
    assert fig.axes[0].get_title() == "mine"
    res.plot_curve(tmp_path / "sub" / "m.svg")
    assert b"<svg" in (tmp_path / "sub" / "m.svg").read_bytes()[:2000]


@pytest.mark.parametrize("points", [0, 1])
def test_curve_with_few_points_still_marks_gamma(
    fits: dict[str, NudgeN | NudgeM], points: int, tmp_path: Path
) -> None:
    res = fits["NUDGE-M"].result_
    curve = {res.gamma: res.curve[res.gamma]} if points else {}
    sparse: NudgeResult = dataclasses.replace(
        res, curve=curve, baseline_score=None, best_score=curve.get(res.gamma)
    )
    fig = plot_curve(sparse, tmp_path / "sparse.png")
    assert_png(tmp_path / "sparse.png")
    assert line_by_gid(fig, "chosen-gamma")[0] == [res.gamma, res.gamma]
    gids = {ln.get_gid() for ln in fig.axes[0].get_lines()}
    assert ("chosen-point" in gids) == bool(points)
    if not points:
        assert "gamma was fixed" in fig.axes[0].texts[0].get_text()


def test_curve_draws_on_the_callers_axes(fits: dict[str, NudgeN | NudgeM], tmp_path: Path) -> None:
    mine = Figure()
    left, right = mine.subplots(1, 2)
    fig = plot_curve(fits["NUDGE-N"].result_, tmp_path / "two.png", ax=right)
    assert fig is mine
    assert not left.get_lines() and right.get_lines()
    assert_png(tmp_path / "two.png")


def test_comparison_png_has_a_bar_per_label_and_metric(
    small: Problem, fits: dict[str, NudgeN | NudgeM], tmp_path: Path
) -> None:
    p = small
    table = {"no fine-tuning": evaluate_embeddings(p.val_q, p.corpus, p.val_rel, device="cpu")}
    for label, est in fits.items():
        nudged = est.nudged_embeddings(p.corpus)
        table[label] = {**evaluate_embeddings(p.val_q, nudged, p.val_rel, device="cpu")}
        table[label]["fit s"] = 1.5  # timing columns are left out by default
    table["no fine-tuning"]["fit s"] = 0.0
    metrics = [m for m in table["NUDGE-N"] if "@" in m]
    assert len(metrics) == 4

    path = tmp_path / "cmp.png"
    fig = plot_comparison(table, path, title="before/after")
    assert_png(path)
    ax = fig.axes[0]
    assert len(ax.patches) == len(table) * len(metrics)
    assert [t.get_text() for t in ax.get_xticklabels()] == metrics
    assert ax.get_title() == "before/after" and ax.get_ylabel() == "score"
    top = 1.12 if max(table[label][m] for label in table for m in metrics) > 0.88 else 1.0
    assert ax.get_ylim() == (0.0, top)  # headroom for the labels of bars near 1
    assert ax.get_yticks()[-1] == 1.0
    heights = sorted(round(b.get_height(), 6) for b in ax.patches)  # type: ignore[attr-defined]
    expected = sorted(round(table[label][m], 6) for label in table for m in metrics)
    assert heights == expected
    assert len(ax.texts) == len(ax.patches)  # every bar is annotated
    assert f"{table['NUDGE-N']['ndcg@10']:.3f}" in {t.get_text() for t in ax.texts}
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(table)

    one = plot_comparison(table, tmp_path / "one.svg", metrics=["ndcg@10", "fit s"])
    assert len(one.axes[0].patches) == 2 * len(table)
    assert one.axes[0].get_ylim()[1] > 1.5  # a value above 1 lets the axis scale
    assert (tmp_path / "one.svg").stat().st_size > 0


# LlamaIndex's compare_retrievers on queries with one relevant record each (the demo):
# hit_rate@10 = recall@10 and li_ndcg@10 = ndcg@10, five columns for three facts
LLAMA_TABLE = {
    "no fine-tuning": {"hit_rate@10": 0.69, "mrr@10": 0.43, "li_ndcg@10": 0.49,
                       "recall@10": 0.69, "ndcg@10": 0.49},
    "NUDGE-N": {"hit_rate@10": 0.77, "mrr@10": 0.46, "li_ndcg@10": 0.54,
                "recall@10": 0.77, "ndcg@10": 0.54},
}  # fmt: skip


def test_equal_columns_are_drawn_once(tmp_path: Path) -> None:
    merged = merge_equal_columns(LLAMA_TABLE)
    names = ["hit_rate@10 = recall@10", "mrr@10", "li_ndcg@10 = ndcg@10"]
    assert list(merged["NUDGE-N"]) == names
    assert merged["NUDGE-N"]["li_ndcg@10 = ndcg@10"] == 0.54
    fig = plot_comparison(LLAMA_TABLE, tmp_path / "cmp.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert len(ax.patches) == 2 * 3
    # columns equal in one row only are two facts: both stay
    graded = {**LLAMA_TABLE, "graded": {**LLAMA_TABLE["NUDGE-N"], "ndcg@10": 0.6}}
    assert list(merge_equal_columns(graded)["graded"]) == [
        "hit_rate@10 = recall@10", "mrr@10", "li_ndcg@10", "ndcg@10"
    ]  # fmt: skip
    # columns the caller names are drawn as named
    fig = plot_comparison(LLAMA_TABLE, metrics=["hit_rate@10", "recall@10"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["hit_rate@10", "recall@10"]
    # a timing column is never merged with a score
    timed = {k: {**v, "fit s": v["mrr@10"]} for k, v in LLAMA_TABLE.items()}
    assert "fit s" in merge_equal_columns(timed, ["mrr@10", "recall@10"])["NUDGE-N"]


def test_default_titles_name_the_dataset_and_split(
    fits: dict[str, NudgeN | NudgeM], tmp_path: Path
) -> None:
    curve = plot_curve(fits["NUDGE-N"].result_, tmp_path / "c.png", dataset="SciFact")
    assert curve.axes[0].get_title() == "SciFact, validation split: NUDGE-N hit@1 by gamma"
    bars = plot_comparison(LLAMA_TABLE, dataset="SciFact", split="test")
    assert bars.axes[0].get_title() == "SciFact, test split: retrieval by method"
    assert plot_comparison(LLAMA_TABLE).axes[0].get_title() == "Retrieval metrics by method"
    assert plot_comparison(LLAMA_TABLE, dataset="x", title="mine").axes[0].get_title() == "mine"
    from PIL.PngImagePlugin import PngImageFile  # the title is in the file, for image viewers

    assert PngImageFile(tmp_path / "c.png").text["Title"] == curve.axes[0].get_title()


def test_bad_input_raises_nudge_errors(fits: dict[str, NudgeN | NudgeM], tmp_path: Path) -> None:
    with pytest.raises(NudgeError, match="empty"):
        plot_comparison({})
    with pytest.raises(NudgeError, match="has no 'recall@10' column"):
        plot_comparison({"a": {"ndcg@10": 0.5, "recall@10": 0.6}, "b": {"ndcg@10": 0.7}})
    with pytest.raises(NudgeError, match="not a number"):
        plot_comparison({"a": {"ndcg@10": "high"}})
    with pytest.raises(NudgeError, match=r"suffixes .*\.png"):
        plot_curve(fits["NUDGE-N"].result_, tmp_path / "curve")
    assert not list(tmp_path.iterdir())


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_matplotlib_is_imported_only_when_plotting() -> None:
    code = (
        "import sys\n"
        "import nudge_integrations.core.plots, nudge_integrations.core\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module import'\n"
        "from nudge_integrations.core.plots import plot_comparison\n"
        "plot_comparison({'a': {'hit@1': 0.5}, 'b': {'hit@1': 0.75}})\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot state touched'\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_missing_matplotlib_names_the_plots_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if not installed\n"
        "from nudge_integrations import NudgeError\n"
        "from nudge_integrations.core.plots import plot_comparison\n"
        "try:\n"
        "    plot_comparison({'a': {'hit@1': 0.5}})\n"
        "except ImportError as exc:\n"
        "    assert isinstance(exc, NudgeError)\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nudge-integrations[plots]" in proc.stdout
