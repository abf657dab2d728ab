"""The parts of ``docs/benchmarks.md`` around the tables: how the run was made, on what
machine, and the SciFact section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.pages.provenance import threads_phrase


def header_lines(first: dict[str, Any], total_s: float | None, mark: str) -> list[str]:
    """Title, the run's start and length, where the raw values are, the command."""
    took = "" if total_s is None else f" (took {total_s / 60:.1f} min)"
    return [
        "# Fit benchmarks",
        "",
        mark,
        "",
        f"Measured by `benchmarks/bench_fit.py` in one run started {first['started']}{took}. "
        "Every number below was measured in that run, except the FAISS ratios quoted under "
        "*What is measured* (`benchmarks/results/fit-vs-floor.json`); raw values are in "
        "`benchmarks/results/fit-<size>.json` and `benchmarks/results/scifact.json`.",
        "",
        "Rerun (from the project root, in the dev virtualenv):",
        "",
        "```",
        first["command"],
        "```",
        "",
    ]


def machine_lines(first: dict[str, Any]) -> list[str]:
    """The machine, versions and thread counts the run recorded."""
    facts = first["machine"]
    return [
        "## Machine",
        "",
        f"- CPU: {facts['cpu']}, {facts['logical_cores']} logical cores "
        f"({facts['affinity_cores']} usable), RAM {facts['ram_gb']:.1f} GB, no GPU used "
        '(`device="cpu"` everywhere)',
        f"- Python {facts['python']}, numpy {facts['numpy']}, torch {facts['torch']} "
        f"({facts['torch_threads']} threads)",
        f"- nudge-integrations {facts['nudge_integrations']}, reference nudge-ft "
        f"{facts['nudge_ft']}",
        f"- {facts['platform']}",
        f"- {threads_phrase(first.get('run'))}",
        "",
    ]


def scifact_section(s: dict[str, Any]) -> list[str]:
    """SciFact: ours against the reference, time, quality, parity and gamma."""
    lines = ["## SciFact (all-MiniLM-L6-v2, NUDGE paper split)", ""]
    if "skipped" in s:
        return [*lines, f"Skipped: {s['skipped']}.", ""]
    sp = s["split"]
    lines.append(
        f"{s['n']:,} records; {sp['train']}/{sp['val']}/{sp['test']} train/val/test queries; "
        f"times are medians of the clean runs among up to {3 * s['repeats']} (aiming at "
        f"{s['repeats']} clean ones; all in the JSON). Test NDCG@10 by exact inner-product search; "
        f"no fine-tuning: {s['baseline_ndcg10']:.4f}."
    )
    lines += ["", "| quantity | NUDGE-N | NUDGE-M |", "|---|---|---|"]

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> str:
        return f"| {label} | {fn(s['N'])} | {fn(s['M'])} |"

    def ref(key: str, fmt: str, suffix: str = "") -> Callable[[dict[str, Any]], str]:
        return lambda x: f"{x[key]:{fmt}}{suffix}" if key in x else "skipped"

    def runs(x: dict[str, Any]) -> str:
        theirs = (
            f"{x['reference_n_clean']}/{len(x['reference_all'])}"
            if "reference_all" in x
            else "skipped"
        )
        return f"{x['ours_n_clean']}/{len(x['ours_all'])}; {theirs}"

    def ref_gamma(x: dict[str, Any]) -> str:
        return f"{x['reference_gamma']['gamma']:.6g}" if "reference_gamma" in x else "skipped"

    lines += [
        row("ours fit, s", lambda x: f"{x['ours_seconds']:.3f}"),
        row("reference fit, s", ref("reference_seconds", ".3f")),
        row("clean/total runs: ours; reference", runs),
        row("speed-up (reference / ours)", ref("speedup_ref_over_ours", ".1f", "x")),
        row("test NDCG@10, ours", lambda x: f"{x['ours_ndcg10']:.4f}"),
        row("test NDCG@10, reference", ref("reference_ndcg10", ".4f")),
        row("max abs diff, ours vs reference", ref("max_abs_diff_vs_ours", ".2e")),
        row("gamma, ours", lambda x: f"{x['ours_gamma']:.6g}"),
        row("gamma, reference", ref_gamma),
    ]
    return [*lines, ""]
