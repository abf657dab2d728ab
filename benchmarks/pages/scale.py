"""The generated blocks of ``docs/scale.md`` from ``scale-<n>.json`` (``bench_scale.py``):
the machine, the table of cases, and what the numbers beside it conclude."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.pages.floor import best, runs
from benchmarks.pages.provenance import threads_phrase

LABELS = {
    "floor-mem": "FAISS floor (IndexFlatIP.search, in memory)",
    "floor-mmap": "FAISS floor (faiss.knn over the memmap)",
    "scan-mem": "our scan alone (in memory)",
    "scan-mmap": "our scan alone (memmap)",
    "mem-N": "NUDGE-N fit, in memory",
    "mem-M": "NUDGE-M fit, in memory",
    "memmap-N": "NUDGE-N fit, np.memmap",
    "memmap-M": "NUDGE-M fit, np.memmap",
    "shards-N": "NUDGE-N fit_shards (shard folder)",
    "ray-N": "NUDGE-N fit_ray (local Ray, 2 CPUs)",
}
#: Each fit's own k (how deep its competitor scan searches; benchmarks.fit.problem.fit_k).
FIT_K = {"N": 1, "M": 2}


def label(name: str) -> str:
    """A case's row label; ``floor-mem-k1`` is the in-memory floor at top-1."""
    base, _, k = name.partition("-k")
    if name.startswith("floor-") and k:
        return LABELS[base].replace("FAISS floor", f"FAISS floor, top-{k}")
    return LABELS.get(name, name)


def load(results: Path) -> dict[int, dict[str, Any]]:
    """Every ``scale-<n>.json`` by n."""
    paths = sorted(results.glob("scale-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    return {int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in paths}


def mmap_kind(name: str) -> bool:
    """Whether a case reads the corpus memory-mapped (its floor is the memmap floor)."""
    return "mmap" in name or name.startswith(("shards-", "ray-"))


def floor_of(cases: dict[str, Any], name: str, k: int | None = None) -> float | None:
    """The floor a case is compared with: same access (memory or memmap), top-10 or top-k."""
    suffix = "" if k in (None, 10) else f"-k{k}"
    mem, mmap = cases.get(f"floor-mem{suffix}", {}), cases.get(f"floor-mmap{suffix}", {})
    first, second = (mmap, mem) if mmap_kind(name) else (mem, mmap)
    got = first.get("seconds") or second.get("seconds")
    return None if got is None else float(got)


def _ratio(seconds: float, floor: float | None) -> str:
    return f"{seconds / floor:.2f}x" if floor else "-"


def case_row(n: int, cases: dict[str, Any], name: str) -> str:
    c = cases[name]
    if "error" in c:
        return f"| {n:,} | {label(name)} | error | | | | | |"
    variant = name.split("-")[-1] if not name.startswith(("floor-", "scan-")) else None
    at_k = _ratio(c["seconds"], floor_of(cases, name, FIT_K[variant])) if variant else ""
    extra = f" + Ray start {c['ray_start_s']:.1f} s" if "ray_start_s" in c else ""
    gamma = f"{c['gamma']:.4g}" if "gamma" in c else ""
    return (
        f"| {n:,} | {label(name)} | {c['seconds']:.2f}{extra} | "
        f"{_ratio(c['seconds'], floor_of(cases, name))} | {at_k} | "
        f"{c['peak_anon_gb']:.2f} ({c['peak_anon_over_baseline_gb']:.2f}) | {gamma} | "
        f"{c['machine_busy_share']:.0%} |"
    )


def table(scale: dict[int, dict[str, Any]]) -> list[str]:
    """Every case of every size, with its ratio to the floor at top-10 and at its own k."""
    lines = [
        "| n | case | seconds | / FAISS floor, top-10 | / FAISS floor at the fit's k | "
        "peak anon GB (over baseline) | gamma | busy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, data in scale.items():
        lines += [case_row(n, data["cases"], name) for name in data["cases"]]
    return lines


def _finished(scale: dict[int, dict[str, Any]]) -> str:
    stamps = sorted(c["measured_at"] for d in scale.values() for c in d["cases"].values())
    first, last = stamps[0][:16], stamps[-1][:16]
    same_day = first[:10] == last[:10]
    return f"{first}-{last[11:] if same_day else last}"


def warm_up_sentence(scale: dict[int, dict[str, Any]], fvf: dict[str, Any] | None) -> str:
    """The fresh-process in-memory floor against the alternating one, at 1M."""
    one = scale.get(1_000_000, {}).get("cases", {}).get("floor-mem")
    alt = next((r for r in runs(fvf) if r["n"] == 1_000_000), None)
    if one is None or alt is None:
        return ""
    return (
        f" Each case is one call in a fresh process, so the in-memory FAISS floor here "
        f"includes its first call's warm-up ({one['seconds']:.1f} s at 1M, against "
        f"{best(alt, 'FAISS floor'):.1f} s best when it repeats in one process, below): read "
        "the in-memory ratios from the alternating benchmark further down, not from this table."
    )


def notes(scale: dict[int, dict[str, Any]]) -> list[str]:
    """What the table shows about memory, Ray and gamma, computed from it."""
    gb = {n: d["cases"].get("mem-N", {}).get("corpus_gb") for n, d in scale.items()}
    gb = {n: g for n, g in gb.items() if g}
    sizes = sorted(gb)[::-1]
    lines = []
    if sizes:
        rest = ", ".join(f"{gb[n]:.2f} GB at {n // 1000}k" for n in sizes[1:])
        lines.append(
            f"* Peak anonymous memory of the in-memory cases includes the {gb[sizes[0]]:.2f} "
            f"GB corpus{f' ({rest})' if rest else ''}; the in-memory FAISS floor also copies "
            "it into its index."
        )
    lines += ray_note(scale) + gamma_note(scale)
    return lines


def ray_note(scale: dict[int, dict[str, Any]]) -> list[str]:
    """Ray against the local memmap fit, at each size where both ran."""
    pairs = [
        (n, d["cases"]["ray-N"]["seconds"] / d["cases"]["memmap-N"]["seconds"])
        for n, d in scale.items()
        if "seconds" in d["cases"].get("ray-N", {}) and "seconds" in d["cases"].get("memmap-N", {})
    ]
    if not pairs:
        return []
    said = "; ".join(
        f"at {n // 1_000_000}M "
        + (f"it matches it ({r:.2f}x)" if r <= 1.05 else f"{r:.2f}x the local path")
        for n, r in pairs
    )
    return [
        "* Ray: the fit time excludes `ray.init` (reported after the +); peak anonymous memory "
        "is the driver plus every Ray worker; Ray's own daemons (raylet, GCS) are not counted. "
        f"Against the local np.memmap fit: {said}."
    ]


def gamma_note(scale: dict[int, dict[str, Any]]) -> list[str]:
    """Whether every NUDGE-N fit of a size chose the same gamma and moved as many records."""
    found = []
    for n, d in scale.items():
        fits = [c for name, c in d["cases"].items() if name.endswith("-N") and "gamma" in c]
        if len(fits) > 1:
            found.append((n, {(c["gamma"], c["n_moved"]) for c in fits}))
    if not found:
        return []
    same = all(len(s) == 1 for _, s in found)
    at = ", ".join(f"{next(iter(s))[0]:.4g} at {n // 1_000_000}M" for n, s in found if len(s) == 1)
    moved = " and ".join(f"{next(iter(s))[1]:,}" for _, s in found if len(s) == 1)
    if same:
        return [
            f"* Gamma and the moved records are the same in every fit of a size (NUDGE-N "
            f"{at}; {moved} records moved)."
        ]
    differ = ", ".join(f"{n:,}" for n, s in found if len(s) > 1)
    return [f"* Gamma or the moved records differ between the NUDGE-N fits at n = {differ}."]


def results_block(scale: dict[int, dict[str, Any]], fvf: dict[str, Any] | None) -> str:
    """When the cases finished, the table, and its notes."""
    files = [f"`scale-{n}.json`" for n in scale]
    files[0] = files[0].replace("`scale", "`benchmarks/results/scale")
    lines = [
        f"Cases finished {_finished(scale)} (`measured_at` in the JSON; raw: "
        f"{', '.join(files)}). Ratios: "
        "in-memory cases against the in-memory floor, the others against the memmap floor; "
        'a fit also against the floor at its own k (NUDGE-N top-1, NUDGE-M top-2), "-" '
        f"where that floor was not timed.{warm_up_sentence(scale, fvf)}",
        "",
        *table(scale),
        "",
        *notes(scale),
    ]
    return "\n".join(lines)


def machine_block(scale: dict[int, dict[str, Any]]) -> str:
    """The machine the scale runs recorded (the largest size's file), as one sentence."""
    data = scale[max(scale)]
    m = data["machine"]
    run = (data.get("runs") or [None])[-1]
    ray = (run or {}).get("versions", {}).get("ray", "version not recorded")
    return (
        f"Machine: {m['cpu']}, {m['logical_cores']} logical cores, {m['ram_gb']:.1f} GB RAM, "
        f"no GPU used; Python {m['python']}, numpy {m['numpy']}, torch {m['torch']} "
        f"({m['torch_threads']} threads), faiss-cpu (the script sets its OpenMP threads to "
        f"torch's count), Ray {ray}; {threads_phrase(run)}."
    )
