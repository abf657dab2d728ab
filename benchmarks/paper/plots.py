"""The plots of ``docs/paper-comparison.md``, drawn from ``benchmarks/results/paper.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The plots, in the order the page shows them.
IMAGES = ("paper-methods.png", "paper-time.png", "paper-ood.png")


def _new_figure(w: float, h: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def draw(res: dict[str, Any], img: Path) -> list[Path]:
    """The three plots of the page, redrawn from the results into ``img``."""
    img.mkdir(parents=True, exist_ok=True)
    names = []
    main = res["main"]
    fig = _new_figure(7.5, 0.42 * len(main) + 1.2)
    ax = fig.add_subplot()
    labels = [r["method"] for r in main][::-1]
    vals = [r["metrics"]["test"]["ndcg@10"] for r in main][::-1]
    bars = ax.barh(labels, vals, color="#4c72b0")
    base = main[0]["metrics"]["test"]["ndcg@10"]
    ax.axvline(base, color="grey", ls="--", lw=1)
    for b, v in zip(bars, vals, strict=True):
        ax.text(v + 0.005, b.get_y() + b.get_height() / 2, f"{v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("test NDCG@10 (SciFact, MiniLM, paper split)")
    fig.tight_layout()
    fig.savefig(img / "paper-methods.png")
    names.append("paper-methods.png")

    fig = _new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    for r in main:
        t = r["fit_s"] + r["embed_s"]
        ax.scatter(max(t, 0.01), r["metrics"]["test"]["ndcg@10"], s=30)
        ax.annotate(
            r["method"],
            (max(t, 0.01), r["metrics"]["test"]["ndcg@10"]),
            fontsize=7,
            xytext=(4, 2),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_xlabel("wall time, s (fit + re-embedding; log scale; 0 shown at 0.01)")
    ax.set_ylabel("test NDCG@10")
    fig.tight_layout()
    fig.savefig(img / "paper-time.png")
    names.append("paper-time.png")

    rows = res["ood"]["rows"]
    fig = _new_figure(8, 4.2)
    ax = fig.add_subplot()
    x = range(len(rows))
    idv = [r["metrics"]["test ID"]["ndcg@10"] for r in rows]
    oodv = [r["metrics"]["test OOD"]["ndcg@10"] for r in rows]
    ax.bar([i - 0.2 for i in x], idv, 0.4, label="ID test queries", color="#4c72b0")
    ax.bar([i + 0.2 for i in x], oodv, 0.4, label="OOD test queries", color="#dd8452")
    ax.axhline(oodv[0], color="#dd8452", ls="--", lw=1)
    ax.axhline(idv[0], color="#4c72b0", ls="--", lw=1)
    ax.set_xticks(list(x))
    ax.set_xticklabels([r["method"] for r in rows], rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test NDCG@10")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(img / "paper-ood.png")
    names.append("paper-ood.png")
    return [img / name for name in names]
