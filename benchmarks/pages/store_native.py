"""The generated blocks of ``docs/store-native.md`` from ``store-native.json``
(``bench_store_native.py``): the tables, and the conclusions drawn from them."""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any

from benchmarks.pages.provenance import machine_phrase, threads_phrase

SCAN_BATCH = 4096  # nudge_integrations.core.sources.SCAN_BATCH: the recall pass's page size
D = 384  # bench_fit.make_problem's dimension, the vectors every store here holds
TITLES = {
    "milvus": "Milvus Lite, FLAT index, IP",
    "qdrant": "Qdrant local mode (in memory), cosine",
}
NAMES = {"milvus": "Milvus Lite", "qdrant": "Qdrant local mode"}


def rows(native: dict[str, Any], store: str | None = None, n: int | None = None) -> list[Any]:
    return [
        r
        for r in native.get("results", [])
        if (store is None or r["store"] == store) and (n is None or r["n"] == n)
    ]


def tiny(x: float | None) -> str:
    """A small difference in one significant digit: 0 -> 0, 2.98e-08 -> 3e-8."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    exp = math.floor(math.log10(abs(x)))
    mant = round(x / 10**exp)
    if mant == 10:
        mant, exp = 1, exp + 1
    return f"{mant}e{exp}" if exp < -2 else f"{x:.2g}"


def run_block(native: dict[str, Any]) -> str:
    """The machine, versions and threads the results file recorded."""
    run = native.get("run")
    m = native.get("machine", {})
    cmd = f"`{run['command']}`, {run['date_utc']}" if run else "command and date not recorded"
    return (
        f"Recorded in the results file: {machine_phrase(m)}; {threads_phrase(run)}; last "
        f"run: {cmd}."
    )


def one_million_block(native: dict[str, Any]) -> str:
    """The 1M table, the 1 GB target judged, and what the rows share."""
    got = [r for s in TITLES for r in rows(native, s, 1_000_000)]
    lines = [
        "| store | load the store | store-native fit | peak over the open store | in-memory fit "
        "| FAISS floor, top-10 | FAISS floor, top-1 (the fit's k) | native fit / floor, top-10 "
        "/ in-memory fit | gamma native / in memory | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in got:
        k1 = r.get("floor_k1_s")
        lines.append(
            f"| {TITLES[r['store']]} | {r['load_s']:.0f} s | {r['native_fit_s']:.1f} s | "
            f"{r['native_peak_growth_gb']:.2f} GB | {r['memory_fit_s']:.1f} s | "
            f"{r['floor_s']:.1f} s | {'-' if k1 is None else f'{k1:.1f} s'} | "
            f"{r['native_fit_s'] / r['floor_s']:.1f}x / "
            f"{r['native_fit_s'] / r['memory_fit_s']:.1f}x"
            f" | {r['gamma_native']:.4g} / {r['gamma_memory']:.4g} | {tiny(r['max_abs_diff'])} |"
        )
    if not got:
        return "Not measured: no 1M rows in `benchmarks/results/store-native.json`."
    met = all(r["native_peak_growth_gb"] <= 1.0 for r in got)
    each = ", ".join(f"+{r['native_peak_growth_gb']:.2f} GB on {NAMES[r['store']]}" for r in got)
    verdict = ("is met on both" if len(got) == 2 else "is met") if met else "is not met"
    lines += [
        "",
        "**The target (a native fit at most 1 GB above the process's baseline, whatever the "
        f"store holds) {verdict}**: {each}.",
        "",
        same_moved(got),
        run_notes(got),
    ]
    return "\n".join(lines)


def run_notes(got: list[dict[str, Any]]) -> str:
    """Each 1M row's note on when and how it ran, as the results file holds it."""
    said = [f"{NAMES[r['store']]}: {r['note']}" for r in got if r.get("note")]
    none = [NAMES[r["store"]] for r in got if not r.get("note")]
    return (
        "* When and how each ran, as the results file notes it: "
        + "; ".join([*said, *([f"{', '.join(none)}: no note"] if none else [])])
        + "."
    )


def same_moved(got: list[dict[str, Any]]) -> str:
    """Whether the native fits moved the same records, with the same gamma, as in memory."""
    same = all(r["same_moved_ids"] and r["gamma_native"] == r["gamma_memory"] for r in got)
    moved = {r["moved"] for r in got}
    if same and len(moved) == 1:
        return (
            f"* {'Both' if len(got) == 2 else 'All'} fits moved the same {moved.pop():,} records "
            "as the in-memory fit, with the same gamma."
        )
    return "* The native and in-memory fits differ in gamma or in the records moved (table)."


def chroma_note_block(native: dict[str, Any]) -> str:
    """The note a Chroma fit left in ``result_.notes``, as recorded."""
    notes = [n for r in rows(native, "chroma") for n in r.get("notes", [])]
    if not notes:
        return "```\n(no Chroma run recorded)\n```"
    return "```\n" + "\n".join(textwrap.wrap(notes[0], 88)) + "\n```"


def qdrant_row(r: dict[str, Any]) -> str:
    search = "chunked scan" if r["store"] == "qdrant" else "its own `query_batch_points`"
    if r["store"] != "qdrant" and "note" in r:
        search = "its own (earlier run)"
    above = r.get("native_peak_above_no_store_gb")
    store = r.get("store_resident_gb")
    return (
        f"| {r['n']:,} | {r['n_val']:,} | {search} | {r['native_fit_s']:.1f} s | "
        f"{r['native_peak_growth_gb']:.2f} GB | "
        f"{'not recorded' if above is None else f'{above:.2f} GB'} | "
        f"{'not recorded' if store is None else f'{store:.2f} GB'} |"
    )


def qdrant_block(native: dict[str, Any]) -> str:
    """Qdrant local mode, its own search against the chunked scan, and what grows."""
    got = sorted(
        rows(native, "qdrant-own-search") + rows(native, "qdrant"),
        key=lambda r: (r["n"], r["store"] == "qdrant"),
    )
    lines = [
        "| Qdrant local mode, n | validation queries | search | fit | peak over the open store "
        "| peak over the process before the store was opened | the store itself |",
        "|---|---|---|---|---|---|---|",
        *[qdrant_row(r) for r in got],
    ]
    scans = sorted(rows(native, "qdrant"), key=lambda r: r["n"])
    if len(scans) >= 2 and "native_peak_above_no_store_gb" in scans[-1]:
        small, big = scans[0], scans[-1]
        grows = big["native_peak_growth_gb"] > 1.5 * small["native_peak_growth_gb"]
        lines += [
            "",
            f"Measured from before the store was opened the {big['n'] // 1_000_000}M run is "
            f"+{big['native_peak_above_no_store_gb']:.2f} GB, all but "
            f"{big['native_peak_growth_gb']:.2f} GB of it the store. The fit's own peak "
            f"{'grows' if grows else 'does not grow'} with the store "
            f"({small['native_peak_growth_gb']:.2f} GB at {small['n'] // 1000}k, "
            f"{big['native_peak_growth_gb']:.2f} GB at {big['n'] // 1_000_000}M).",
        ]
    return "\n".join([*lines, *float64_copies(native)])


def float64_copies(native: dict[str, Any]) -> list[str]:
    """Two float64 copies of the earlier 1M run's collection, next to the peak it measured."""
    own = [r for r in rows(native, "qdrant-own-search") if r["n_val"] and r["n"] >= 10**6]
    if not own:
        return []
    r = own[-1]
    unit = native.get("machine", {}).get("gb_unit", 2**30)
    copies = 2 * r["n"] * D * 4 / unit
    share = copies / r["native_peak_growth_gb"]
    return [
        "",
        f"Two float64 copies of the {r['n'] // 1_000_000}M x {D} collection (2 x n x d x 4 "
        f"bytes, local mode's own search, above) are {copies:.2f} GB: "
        f"{share:.0%} of the +{r['native_peak_growth_gb']:.2f} GB its run measured.",
    ]


def chroma_block(native: dict[str, Any]) -> str:
    """Chroma's fit with and without the recall pass, and what the pass found."""
    got = rows(native, "chroma")
    if not got:
        return "Not measured: no Chroma row in `benchmarks/results/store-native.json`."
    r = got[-1]
    note = (r.get("notes") or [""])[0]
    sample = re.search(r"on (\d+) of", note)
    took = re.search(r"([\d.]+) s\)$", note)
    pass_s = float(took.group(1)) if took else r["native_fit_s"] - r["native_fit_no_recall_s"]
    added = r["native_peak_growth_gb"] - r["native_no_recall_peak_growth_gb"]
    effect = (
        "added nothing measurable to the peak"
        if abs(added) < 0.01
        else f"added {added:+.2f} GB to the peak"
    )
    same = "same records moved" if r["same_moved_ids"] else "different records moved"
    return "\n".join(
        [
            "| | fit | peak over the open store |",
            "|---|---|---|",
            f"| `recall_sample=0` | {r['native_fit_no_recall_s']:.1f} s | "
            f"{r['native_no_recall_peak_growth_gb']:.2f} GB |",
            f"| default ({sample.group(1) if sample else '?'} queries) | "
            f"{r['native_fit_s']:.1f} s | {r['native_peak_growth_gb']:.2f} GB |",
            "",
            f"The recall pass read all {r['n']:,} vectors ({math.ceil(r['n'] / SCAN_BATCH)} pages "
            f"of {SCAN_BATCH:,}) in {pass_s:.1f} s and {effect}. It found recall@1 "
            f"{r['index_recall']:.3f}: for {1 - r['index_recall']:.0%} of the sampled questions, "
            "the best competitor outside the records the fit holds is not the one the HNSW "
            f"search returned, and the fit's gamma was {r['gamma_native']:.4g} against the "
            f"in-memory fit's {r['gamma_memory']:.4g} ({same}, vectors up to "
            f"{r['max_abs_diff']:.2g} apart).",
            "",
            f"At 1M the pass reads {10**6 // r['n']}x as many pages, each costing a little more "
            "the further it lies (below), so it should take more than "
            f"{10**6 / r['n'] * pass_s:.0f} s here: an extrapolation, not a measurement.",
        ]
    )
