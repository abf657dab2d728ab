"""In-memory fits against FAISS's exact search (``fit-vs-floor.json``): the alternating
table of ``docs/scale.md`` and the ratios other pages quote."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.pages.provenance import machine_phrase, threads_phrase

FLOOR = "FAISS floor"
PRODUCT = "bare matrix product"
FITS = {"NudgeN fit": "N", "NudgeM fit": "M"}
D = 384  # the problem's dimension (benchmarks.fit.problem.DIM)
N_VAL = 1_000


def floor_at(k: int) -> str:
    """The case name of the FAISS floor at top-``k`` (top-10 is plain ``FAISS floor``)."""
    return FLOOR if k == 10 else f"{FLOOR}, top-{k}"


def fit_ks(run: dict[str, Any]) -> dict[str, int]:
    """Each fit's own k as the run recorded it (NudgeN 1, NudgeM 2 by default)."""
    return run.get("fit_k") or {"NudgeN fit": 1, "NudgeM fit": 2}


def best(run: dict[str, Any], case: str) -> float | None:
    got = run["seconds"].get(case)
    return min(got) if got else None


def runs(fvf: dict[str, Any] | None) -> list[dict[str, Any]]:
    return sorted((fvf or {}).get("runs", []), key=lambda r: r["n"])


def provenance(fvf: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The run's own record, or the file's top-level one (files written before 2026-12-07)."""
    if "run" in run:
        return dict(run["run"])
    return {
        "command": fvf.get("command"),
        "date_utc": fvf.get("when"),
        "machine": fvf.get("machine"),
        "date_is_end": True,  # the older files stamped the time of writing, at the end
    }


def ratio(run: dict[str, Any], fit: str, k: int | None = None) -> float | None:
    """Best fit time over the best floor time (top-10, or top-``k``); None if not timed."""
    fit_s, floor_s = best(run, fit), best(run, floor_at(10 if k is None else k))
    return None if fit_s is None or floor_s is None else fit_s / floor_s


def short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


def sig2(x: float) -> str:
    """Two significant digits, as a human would round a spread (0.413 -> 0.41, 4.05 -> 4.0)."""
    return f"{x:.{max(0, 1 - math.floor(math.log10(abs(x))))}f}" if x else "0"


def faiss_ratio_phrase(fvf: dict[str, Any] | None) -> str:
    """NUDGE-N's best time over FAISS's best, by size, largest first."""
    if not fvf:
        return "not measured (no benchmarks/results/fit-vs-floor.json)"
    rs = runs(fvf)[::-1]
    top10 = ", ".join(f"{ratio(r, 'NudgeN fit'):.2f}x at {short(r['n'])}" for r in rs)
    at_k = [(r, ratio(r, "NudgeN fit", fit_ks(r)["NudgeN fit"])) for r in rs]
    timed = [f"{x:.2f}x at {short(r['n'])}" for r, x in at_k if x is not None]
    extra = f"; against its own k (top-1): {', '.join(timed)}" if timed else ""
    return f"{top10} for NUDGE-N{extra}"


def _cell(seconds: float | None, over: list[float | None], bold: bool) -> str:
    if seconds is None:
        return "-"
    shown = [("-" if x is None else (f"**{x:.2f}x**" if bold else f"{x:.2f}x")) for x in over]
    return f"{seconds:.3f} s ({' / '.join(shown)})"


def table_row(run: dict[str, Any]) -> str:
    ks = fit_ks(run)
    floors = [best(run, floor_at(k)) for k in sorted(set(ks.values()))]
    at_k = " / ".join("-" if s is None else f"{s:.3f} s" for s in floors)
    cells = [f"{run['n']:,}", f"{best(run, FLOOR):.3f} s", at_k]
    cells.append(_cell(best(run, PRODUCT), [ratio(run, PRODUCT)], bold=False))
    for fit in FITS:
        over = [ratio(run, fit), ratio(run, fit, ks[fit])]
        cells.append(_cell(best(run, fit), over, bold=True))
    return "| " + " | ".join(cells) + " |"


def _provenance_lines(fvf: dict[str, Any]) -> list[str]:
    """One line per distinct run: its sizes, command, date, machine and threads."""
    groups: dict[str, list[int]] = {}
    records: dict[str, dict[str, Any]] = {}
    for r in runs(fvf):
        p = provenance(fvf, r)
        key = f"{p.get('command')}|{p.get('date_utc')}"
        groups.setdefault(key, []).append(r["n"])
        records[key] = p
    lines = []
    for key, sizes in groups.items():
        p = records[key]
        load = p.get("loadavg")
        busy = f"; 1-min load average {load[0]:.2f} at its start" if load else ""
        lines.append(
            f"- n = {' and '.join(f'{n:,}' for n in sizes)}: `{p.get('command')}`, "
            f"{'written' if p.get('date_is_end') else 'started'} {p.get('date_utc')}; "
            f"{machine_phrase(p.get('machine') or {})}; "
            f"{threads_phrase(p if 'threads' in p else None)}{busy}."
        )
    return lines


def fit_vs_floor_block(fvf: dict[str, Any] | None) -> str:
    """The alternating table, its spread and throughput notes, and each run's record."""
    if not fvf:
        return "Not measured: no `benchmarks/results/fit-vs-floor.json`."
    rs = runs(fvf)
    repeats = sorted({len(r["seconds"][FLOOR]) for r in rs})
    spread = " and ".join(
        f"{sig2(min(r['seconds'][FLOOR]))}-{sig2(max(r['seconds'][FLOOR]))} s" for r in rs
    )
    gflops = [2 * N_VAL * r["n"] * D / best(r, PRODUCT) / 1e9 for r in rs if best(r, PRODUCT)]
    products = [x for x in (ratio(r, PRODUCT) for r in rs) if x is not None]
    lines = [
        f"Seconds, best of {'/'.join(map(str, repeats))}; the top-10 floor's repeats spread "
        f"{spread}. In brackets: the ratio to the FAISS floor at top-10 / at the fit's own k "
        '(NudgeN top-1, NudgeM top-2); "-" where the run did not time that floor.',
        "",
        "| n | FAISS floor, top-10 | FAISS floor at the fits' k: top-1 / top-2 | bare product "
        "| NudgeN fit | NudgeM fit |",
        "|---|---|---|---|---|---|",
        *[table_row(r) for r in rs],
        "",
        f"The bare product takes {min(products):.2f}-{max(products):.2f}x the top-10 floor "
        f"({min(gflops):.0f}-{max(gflops):.0f} GFLOP/s for the {N_VAL:,} x n x {D} product)."
        if products
        else "The bare product was not timed.",
        "",
        "Runs:",
        "",
        *_provenance_lines(fvf),
    ]
    return "\n".join(lines)
