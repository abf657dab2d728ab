"""Pictures of a NUDGE fit: the validation curve over gamma, and before/after bar charts.

matplotlib is an optional extra (``pip install 'nudge-integrations[plots]'``). It is
imported only when a function here is called, so importing this module is free and works
without it. Figures are plain ``matplotlib.figure.Figure`` objects on an Agg canvas rather
than pyplot figures: they render headless, and the user's backend and pyplot state are
left alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nudge_integrations.core.errors import NudgeError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


class FitCurve(Protocol):
    """What a curve plot reads from a fit (a :class:`~nudge_integrations.core.NudgeResult`)."""

    @property
    def curve(self) -> dict[float, float]: ...
    @property
    def metric(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def gamma(self) -> float: ...
    @property
    def variant(self) -> str: ...
    @property
    def best_score(self) -> float | None: ...
    @property
    def baseline_score(self) -> float | None: ...


__all__ = ["MissingExtraError", "merge_equal_columns", "plot_comparison", "plot_curve"]

PathLike = str | os.PathLike[str]


class MissingExtraError(NudgeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def _new_figure(width: float, height: float) -> Figure:
    """A Figure on its own Agg canvas: headless-safe, unknown to pyplot, no global state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtraError(
            "plotting needs matplotlib, which is not installed: "
            "pip install 'nudge-integrations[plots]' (or pip install 'matplotlib>=3.7')"
        ) from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _root_figure(ax: Axes) -> Figure:
    """The top-level Figure of a caller's Axes (through any SubFigure), to save and return."""
    from matplotlib.figure import Figure

    root = getattr(ax.figure, "figure", None)  # a Figure is its own .figure
    if not isinstance(root, Figure):
        raise NudgeError("the Axes passed as ax belongs to no figure: pass an Axes of a Figure")
    return root


def _save(fig: Figure, path: PathLike) -> None:
    """Write ``fig`` in the format its suffix names (``.png``, ``.svg``, ...)."""
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise NudgeError(
            f"cannot tell which image format to write for {str(target)!r}: give the path "
            f"one of the suffixes {', '.join('.' + s for s in sorted(supported))} "
            "(e.g. .png or .svg)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    # the title also goes into the file (image viewers show it; tests read it back)
    metadata = {"Title": titles[0]} if titles and fmt in ("png", "svg", "pdf") else None
    fig.savefig(target, format=fmt, dpi=100, metadata=metadata)


def plot_curve(
    result: FitCurve,
    path: PathLike | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    dataset: str | None = None,
) -> Figure:
    """The validation metric against gamma, with the chosen gamma marked.

    Shows why a fit picked its gamma. Draws on ``ax`` when given (its figure is returned
    and left open), else on a new headless figure; saves to ``path`` when given. A fit
    with a fixed gamma has no curve: the chosen gamma is still marked. The default title
    names ``dataset`` (e.g. ``"SciFact"``) when given, and the validation split.
    """
    if ax is None:
        fig = _new_figure(6.4, 4.2)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    points = sorted(result.curve.items())
    name = f"validation {result.metric}@{result.k}"
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, color="C0", label=name)
    else:
        ax.text(
            0.5,
            0.5,
            "no validation curve (gamma was fixed)",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )
        ax.set_ylim(0, 1)
    if result.baseline_score is not None:
        ax.axhline(
            result.baseline_score,
            color="0.5",
            linestyle=":",
            linewidth=1,
            label=f"no fine-tuning ({result.baseline_score:.3f})",
        )
    verb = "chosen" if points else "fixed"
    ax.axvline(
        result.gamma,
        color="C3",
        linestyle="--",
        linewidth=1,
        label=f"{verb} gamma = {result.gamma:.4g}",
        gid="chosen-gamma",
    )
    score = result.curve.get(result.gamma, result.best_score)
    if score is not None:
        ax.plot(
            [result.gamma],
            [score],
            marker="o",
            markersize=7,
            color="C3",
            linestyle="none",
            label=f"best {name} = {score:.3f}",
            gid="chosen-point",
        )
    ax.set_xlabel("gamma")
    ax.set_ylabel(name)
    if title is None:
        title = f"NUDGE-{result.variant}: {name} by gamma"
        if dataset:
            metric = f"{result.metric}@{result.k}"
            title = f"{dataset}, validation split: NUDGE-{result.variant} {metric} by gamma"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if path is not None:
        _save(fig, path)
    return fig


def _default_metrics(table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Columns of the first row that are scores (``name@k``), else all of them."""
    first = list(next(iter(table.values())))
    scores = [m for m in first if "@" in m]
    return scores or first


def _same_column(table: Mapping[str, Mapping[str, Any]], a: str, b: str) -> bool:
    """Whether columns ``a`` and ``b`` hold the same number in every row."""
    for row in table.values():
        x, y = row.get(a), row.get(b)
        if not (isinstance(x, Real) and isinstance(y, Real)) or isinstance(x, bool):
            return False
        if isinstance(y, bool) or not math.isclose(float(x), float(y), abs_tol=1e-9):
            return False
    return True


def merge_equal_columns(
    table: Mapping[str, Mapping[str, Any]], columns: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The table with columns that agree in every row shown once, named ``"a = b"``.

    LlamaIndex's ``hit_rate@10`` equals ``recall@10``, and its ``li_ndcg@10`` equals
    ``ndcg@10``, whenever each query has one relevant record (as in the demo): two names
    for one fact. The merged column keeps the first one's place; ``columns`` limits the
    merge to those names (default: every column)."""
    names = list(dict.fromkeys(c for row in table.values() for c in row))
    candidates = list(columns) if columns is not None else names
    merged: dict[str, list[str]] = {}
    for name in names:
        twin = next(
            (
                kept
                for kept in merged
                if name in candidates and kept in candidates and _same_column(table, kept, name)
            ),
            None,
        )
        if twin is None:
            merged[name] = [name]
        else:
            merged[twin].append(name)
    label = {first: " = ".join(group) for first, group in merged.items()}
    return {
        row_label: {label[first]: row[first] for first in merged if first in row}
        for row_label, row in table.items()
    }


def plot_comparison(
    table: Mapping[str, Mapping[str, Any]],
    path: PathLike | None = None,
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    dataset: str | None = None,
    split: str | None = None,
) -> Figure:
    """Grouped bars, one group per metric and one bar per label, values written on bars.

    ``table`` is ``{label: {metric: value}}`` as :func:`nudge_integrations.core.report.
    evaluate_embeddings` rows or ``compare_retrievers`` return. ``metrics`` picks and
    orders the columns; by default the first row's ``metric@k`` columns (so a ``fit s``
    timing column is left out), with columns equal in every row drawn once
    (:func:`merge_equal_columns`: ``hit_rate@10 = recall@10``). The default title names
    ``dataset`` and ``split`` (e.g. ``"SciFact"``, ``"test"``) when given. The y axis runs
    0 to 1 when every value is a fraction.
    """
    if not table:
        raise NudgeError("the comparison table is empty: pass {label: {metric: value}}")
    labels = list(table)
    if metrics is None:
        table = merge_equal_columns(table, _default_metrics(table))
    names = list(metrics) if metrics is not None else _default_metrics(table)
    if not names:
        raise NudgeError("no metrics to plot: pass metrics=[...] or rows with metric columns")
    values: dict[str, list[float]] = {}
    for label in labels:
        row = table[label]
        values[label] = []
        for m in names:
            if m not in row:
                raise NudgeError(
                    f"row {label!r} has no {m!r} column (it has {sorted(row)}): give every "
                    "row the same metrics, or choose shared ones with metrics=[...]"
                )
            v = row[m]
            if isinstance(v, bool) or not isinstance(v, Real):
                raise NudgeError(
                    f"row {label!r}, column {m!r} is {v!r}, not a number: plot only numeric "
                    "columns (choose them with metrics=[...])"
                )
            values[label].append(float(v))
    fig = _new_figure(max(6.4, 1.5 + 0.5 * len(labels) * len(names)), 4.4)
    ax = fig.add_subplot()
    width = 0.8 / len(labels)
    dense = len(labels) * len(names) > 12
    for i, label in enumerate(labels):
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(names))]
        bars = ax.bar(xs, values[label], width, label=label, color=f"C{i % 10}")
        ax.bar_label(
            bars,
            fmt="%.3f",
            padding=2,
            fontsize="x-small" if dense else "small",
            rotation=90 if dense else 0,
        )
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("score")
    everything = [v for vs in values.values() for v in vs if not math.isnan(v)]
    if all(0 <= v <= 1 for v in everything):
        # room above bars near 1 for their labels, ticks still ending at 1
        ax.set_ylim(0, 1.12 if max(everything, default=0) > 0.88 else 1)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    if title is None:
        where = ", ".join(filter(None, [dataset, f"{split} split" if split else None]))
        title = f"{where}: retrieval by method" if where else "Retrieval metrics by method"
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", ncols=min(len(labels), 4), fontsize="small")
    if path is not None:
        _save(fig, path)
    return fig
