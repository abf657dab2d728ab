"""The generated blocks of ``README.md`` and ``docs/cli.md``: the SciFact output of
``nudge finetune`` and the numbers quoted beside it, from ``benchmarks/results/paper.json``.

The paper benchmark's "NUDGE-N + val refit" row is the CLI's default fit (the same split,
vectors and gamma grid), its "NUDGE-N" row the ``--no-refit-with-validation`` one;
``tests/test_readme.py`` reruns the command and checks that it prints this text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nudge_integrations.core.report import format_table

#: The command both pages show (``tests/test_readme.py`` runs it).
COMMAND = (
    "nudge finetune scifact --embeddings corpus.npy --ids corpus_ids.json \\\n"
    "    --query-embeddings queries.npy --query-ids query_ids.json --out nudge-out"
)
#: What ``nudge finetune`` writes with the ``plots`` extra (``nudge_integrations.cli``).
OUTPUTS = "nudged.npy, nudged_ids.json, summary.json, curve.png, comparison.png"
BASE, DEFAULT, PAPER_WAY = "no fine-tuning", "NUDGE-N + val refit", "NUDGE-N"
REFERENCE = "nudge-ft"
#: The CLI's columns and the paper run's names for them (one relevant record per query:
#: recall@1 is hit@1).
COLUMNS = {"ndcg@10": "ndcg@10", "recall@10": "recall@10", "mrr@10": "mrr@10", "hit@1": "recall@1"}


def load(results: Path) -> dict[str, Any] | None:
    """``paper.json``, or None where the run is missing."""
    path = results / "paper.json"
    return json.loads(path.read_text()) if path.is_file() else None


def row(paper: dict[str, Any], method: str) -> dict[str, Any]:
    """The main comparison's row whose method name starts with ``method``."""
    exact = [r for r in paper["main"] if r["method"] == method]
    found: dict[str, Any] = (exact or [r for r in paper["main"] if r["method"].startswith(method)])[
        0
    ]
    return found


def scores(r: dict[str, Any]) -> dict[str, float]:
    """A row's test metrics under the CLI's column names."""
    return {col: r["metrics"]["test"][key] for col, key in COLUMNS.items()}


def output(paper: dict[str, Any]) -> str:
    """What ``nudge finetune`` prints for the recorded default fit."""
    fit = row(paper, DEFAULT)
    table = format_table({BASE: scores(row(paper, BASE)), "NUDGE-N": scores(fit)})
    info = fit["info"]
    return (
        f"{table}\n\nNUDGE-N: gamma {info['gamma']:.4g}, moved {info['moved']} of "
        f"{paper['sizes']['records']} records; wrote {OUTPUTS} to nudge-out"
    )


def readme_output(paper: dict[str, Any] | None) -> str:
    """The README's output block."""
    if paper is None:
        return "Not measured (no benchmarks/results/paper.json)."
    return f"```\n{output(paper)}\n```"


def readme_notes(paper: dict[str, Any] | None) -> str:
    """The split's sizes, the question count the model embeds, the paper's way's NDCG."""
    if paper is None:
        return "Not measured (no benchmarks/results/paper.json)."
    s = paper["sizes"]
    faithful = row(paper, PAPER_WAY)["metrics"]["test"]["ndcg@10"]
    return (
        f"This run fits on {s['train']} training and {s['val']} validation questions and "
        f"scores {s['test']} test ones; your model embeds each training and validation "
        f"question once ({s['train'] + s['val']} calls for that run) and the stored vectors "
        "are reused. `--no-refit-with-validation` nudges with the training questions alone, "
        f"as the paper's code does (test NDCG@10 {faithful:.4f}). Generated from "
        "`benchmarks/results/paper.json` (`python -m benchmarks.report`)."
    )


def cli_output(paper: dict[str, Any] | None) -> str:
    """``docs/cli.md``'s console block: the command, then what it prints."""
    if paper is None:
        return "Not measured (no benchmarks/results/paper.json)."
    command = COMMAND.replace("\n    ", "\n      ")
    return f"```console\n$ {command}\n{output(paper)}\n```"


def cli_paper_way(paper: dict[str, Any] | None) -> str:
    """The ``--no-refit-with-validation`` result, and whether nudge-ft gives the same."""
    if paper is None:
        return "Not measured (no benchmarks/results/paper.json)."
    ours = row(paper, PAPER_WAY)
    ndcg = ours["metrics"]["test"]["ndcg@10"]
    ref = [r for r in paper["main"] if r["method"].startswith(REFERENCE)]
    ref = [r for r in ref if r["method"].endswith(PAPER_WAY)]
    same = ""
    if ref:
        theirs = ref[0]["metrics"]["test"]["ndcg@10"]
        name = ref[0]["method"].removesuffix(f" {PAPER_WAY}")
        agree = "the same number" if f"{theirs:.4f}" == f"{ndcg:.4f}" else f"{theirs:.4f}"
        same = f"; the paper's reference code ({name}) gives {agree} on that split"
    info = ours["info"]
    return (
        "`--no-refit-with-validation` nudges with the training queries alone, as the paper's "
        f"reference code does; on the same data that gives NDCG@10 {ndcg:.4f} (gamma "
        f"{info['gamma']:g}, moved {info['moved']} records){same} (`benchmarks/results/"
        "paper.json`)."
    )


def readme_blocks(results: Path) -> dict[str, Callable[[], str]]:
    """README.md's block: the output, then the numbers quoted beside it."""
    paper = load(results)
    return {"readme-scifact": lambda: f"{readme_output(paper)}\n\n{readme_notes(paper)}"}


def cli_blocks(results: Path) -> dict[str, Callable[[], str]]:
    """docs/cli.md's blocks, each rendered from ``paper.json``."""
    paper = load(results)
    return {
        "cli-scifact": lambda: cli_output(paper),
        "cli-paper-way": lambda: cli_paper_way(paper),
    }
