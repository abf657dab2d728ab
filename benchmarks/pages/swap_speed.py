"""The swap-speed block of ``docs/ledger.md``, from ``swap-speed-*.json``
(``bench_swap_speed.py``): swap and revert in Chroma next to Chroma's own update."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.pages.provenance import NOT_RECORDED

#: The writer methods that read and write the ``nudge_ledger`` markers.
MARKERS = ("read_markers", "write_markers")


def load(results: Path) -> list[dict[str, Any]]:
    """Every ``swap-speed-*.json``, smallest store first, each with its file name."""
    runs = []
    for path in results.glob("swap-speed-*.json"):
        data = json.loads(path.read_text())
        runs.append({**data, "file": path.name})
    return sorted(runs, key=lambda r: (r["n"], r["moved"], r["file"]))


def markers_s(step: dict[str, Any]) -> float:
    """Seconds a swap or revert spent reading and writing markers."""
    return sum(float(step.get(k, 0.0)) for k in MARKERS)


def provenance(data: dict[str, Any]) -> str:
    """The command and date the file recorded, or "not recorded"."""
    run = data.get("run") or {}
    cmd = f"`{run['command']}`" if run.get("command") else f"command {NOT_RECORDED}"
    date = run.get("date_utc") or f"date {NOT_RECORDED}"
    return f"{cmd}, {date}"


def machine_cell(data: dict[str, Any]) -> str:
    """CPU and cores from the file's machine record."""
    m = data.get("machine") or (data.get("run") or {}).get("machine") or {}
    if not m:
        return NOT_RECORDED
    return f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores"


def row(data: dict[str, Any]) -> str:
    """One store size: records moved, batches, swap and revert against Chroma's own update."""
    c = data["chroma"]
    swap, back = c["swap1"], c["revert"]
    batches = math.ceil(data["moved"] / c["max_batch_size"])
    return (
        f"| {data['moved']:,} of {data['n']:,} ({data['dim']}) | "
        f"{batches} of {c['max_batch_size']:,} | "
        f"{swap['seconds']:.1f} s / {c['own_update_s']:.1f} s | "
        f"{back['seconds']:.1f} s / {c['own_update_back_s']:.1f} s | "
        f"{markers_s(swap):.1f} s / {markers_s(back):.1f} s | {machine_cell(data)} | "
        f"{provenance(data)} (`{data['file']}`) |"
    )


def block(runs: list[dict[str, Any]]) -> str:
    """The table of every recorded run, then how the lifecycle compares with Chroma's own."""
    if not runs:
        return "Not measured: no `benchmarks/results/swap-speed-*.json`."
    lines = [
        "| records moved (dimension) | Chroma batches (max batch size) | swap / Chroma's "
        "own update | revert / Chroma's own update back | of which marker reads and writes, "
        "swap / revert | machine | command, date |",
        "|---|---|---|---|---|---|---|",
        *[row(r) for r in runs],
    ]
    ratios = [
        r["chroma"][step]["seconds"] / r["chroma"][own]
        for r in runs
        for step, own in (("swap1", "own_update_s"), ("revert", "own_update_back_s"))
    ]
    shares = [
        markers_s(r["chroma"][step]) / r["chroma"][step]["seconds"]
        for r in runs
        for step in ("swap1", "revert")
    ]
    lines += ["", wrap(f"{compare(ratios, shares)} {recorded(runs)}")]
    return "\n".join(lines)


def blocks(results: Path) -> dict[str, Callable[[], str]]:
    """``docs/ledger.md``'s generated block, by marker name."""
    runs = load(results)
    return {"ledger-swap-speed": lambda: block(runs)}


def compare(ratios: list[float], shares: list[float]) -> str:
    """The lifecycle against Chroma's own update, and the markers' share, in one sentence."""
    return (
        f"Swap and revert took {min(ratios):.2f}x to {max(ratios):.2f}x the time of "
        "Chroma's own `collection.update` of the same vectors; reading and writing the "
        f"markers took {min(shares):.1%} to {max(shares):.1%} of a swap or revert."
    )


def recorded(runs: list[dict[str, Any]]) -> str:
    """Whether the files recorded versions and thread counts (``record()`` under ``run``)."""
    have = [r["file"] for r in runs if r.get("run")]
    if len(have) == len(runs):
        return "Versions and thread counts: recorded under `run` in each file."
    lacking = ", ".join(f"`{r['file']}`" for r in runs if not r.get("run"))
    return (
        f"Command, date, versions and thread counts: {NOT_RECORDED} in {lacking} (run "
        "before `bench_swap_speed.py` recorded them under `run`, as it does since)."
    )


def wrap(text: str) -> str:
    """Prose at the page's width, never breaking a word or a code span at a hyphen."""
    return textwrap.fill(text, 88, break_long_words=False, break_on_hyphens=False)
