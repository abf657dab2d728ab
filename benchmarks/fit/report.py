"""``docs/benchmarks.md``, written whole from ``benchmarks/results/fit-*.json`` and
``scifact.json`` (and the FAISS ratios of ``fit-vs-floor.json``): nothing on it is typed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.fit.problem import (
    DIM,
    DOCS_PER_CENTRE,
    FLOOR_K,
    N_TRAIN,
    N_VAL,
    POOL,
    QUERY_NOISE,
    SHIFT,
    SPREAD,
    fit_k,
)
from benchmarks.fit.profiling import SCAN, STAGES, WHOLE
from benchmarks.fit.reference import PARITY_ATOL
from benchmarks.fit.timing import CLEAN_SHARE, median
from benchmarks.fit.write_up import header_lines, machine_lines, scifact_section

Row = Callable[[str], str]
MARK = (
    "<!-- generated: benchmarks.report fit (the whole page, from benchmarks/results/fit-*.json, "
    "scifact.json and fit-vs-floor.json); do not edit: run python -m benchmarks.report -->"
)


def cell(value: Any, fmt: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{suffix}"


def _row(label: str, fn: Row) -> str:
    return f"| {label} | {fn('N')} | {fn('M')} |"


def _runs(x: dict[str, Any]) -> str:
    return f"{x['n_clean']}/{x['n_runs']}"


def timing_rows(r: dict[str, Any]) -> list[str]:
    """Floor (top-10 and the fit's own k), our fit and their ratios."""
    floor, ours, ref = r["floor"]["seconds"], r["ours"], r["reference"]
    at_k = r.get("floor_at_k", {})

    def floor_k(v: str) -> str:
        got = at_k.get(str(fit_k(v)))
        return "-" if got is None else f"{got['seconds']:.3f} (top-{fit_k(v)})"

    def ref_runs(v: str) -> str:
        return _runs(ref[v]) if v in ref else "skipped"

    return [
        _row(f"floor: exact top-{FLOOR_K} pass, s", lambda v: f"{floor:.3f}"),
        _row("floor at the fit's own k, s", floor_k),
        _row("ours fit, s", lambda v: f"{ours[v]['seconds']:.3f}"),
        _row("ours / floor", lambda v: f"{ours[v]['over_floor']:.2f}x"),
        _row(
            "ours / floor at the fit's own k",
            lambda v: cell(ours[v].get("over_floor_at_fit_k"), ".2f", "x").replace("n/a", "-"),
        ),
        _row(
            "clean/total runs: floor; ours; reference",
            lambda v: f"{_runs(r['floor'])}; {_runs(ours[v])}; {ref_runs(v)}",
        ),
    ]


def reference_rows(r: dict[str, Any]) -> list[str]:
    """The reference's time, speed-up, parity and gamma next to ours."""
    ours, ref = r["ours"], r["reference"]

    def ref_value(fn: Callable[[dict[str, Any]], str]) -> Row:
        return lambda v: fn(ref[v]) if v in ref else "skipped"

    def equal(x: dict[str, Any]) -> str:
        return "yes" if x["max_abs_diff_vs_ours"] <= PARITY_ATOL else "**no**"

    return [
        _row("reference fit, s", ref_value(lambda x: f"{x['seconds']:.1f}")),
        _row(
            "speed-up (reference / ours)", ref_value(lambda x: f"{x['speedup_ref_over_ours']:.1f}x")
        ),
        _row(
            "max abs diff, ours vs reference vectors",
            ref_value(lambda x: f"{x['max_abs_diff_vs_ours']:.2e}"),
        ),
        _row(f"vectors equal to reference within {PARITY_ATOL:g}", ref_value(equal)),
        _row("gamma, ours", lambda v: f"{ours[v]['gamma']:.6g}"),
        _row("gamma, reference", ref_value(lambda x: f"{x['gamma_reference']['gamma']:.6g}")),
        _row(
            "validation score (ours), gamma=0 -> chosen: N hit@1; M share of (query, "
            "relevant) pairs ranked first",
            lambda v: (
                f"{cell(ours[v]['val_baseline'], '.4f')} -> {cell(ours[v]['val_best'], '.4f')}"
            ),
        ),
    ]


MEMORY_ROWS = (
    ("corpus", "corpus_gb"),
    ("process baseline RSS (after imports)", "baseline_rss_gb"),
    ("peak RSS of the fit process (ru_maxrss)", "maxrss_after_fit_gb"),
    ("peak RSS of the fit process (VmHWM since start)", "vmhwm_since_start_gb"),
    ("peak - (baseline + corpus)", "peak_over_baseline_plus_corpus_gb"),
    ("peak growth during the fit alone (VmHWM window)", "fit_window_growth_gb"),
)


def memory_rows(r: dict[str, Any]) -> list[str]:
    """Peak memory of the fresh-process fits, and whether the 1 GB target is met."""
    mem = r.get("memory", {})
    if not mem:
        return [_row("peak memory", lambda v: "not measured (--no-memory)")]

    def value(key: str) -> Row:
        def one(v: str) -> str:
            m = mem.get(v)
            if not m:
                return "not measured"
            return "failed" if "error" in m else cell(m[key], ".3f", " GB")

        return one

    def met(v: str) -> str:
        m = mem.get(v)
        if not m or "error" in m:
            return "n/a"
        return "yes" if m["meets_target_corpus_plus_1gb"] else "no"

    rows = [_row(label, value(key)) for label, key in MEMORY_ROWS]
    return [*rows, _row("target peak <= corpus + 1 GB met", met)]


def reference_note(v: str, r: dict[str, Any]) -> list[str]:
    """How the reference's gamma was read back, and why vectors differ where they do."""
    g = r["reference"][v]["gamma_reference"]
    if v == "N":
        lines = [
            f"- Reference NUDGE-N gamma read back from its output: raw "
            f"{g['raw_estimate']:.6f}, grid {g['gamma']:.2f}; its own closed form at "
            f"that gamma reproduces its output to {g['closed_form_check_max_abs']:.1e}."
        ]
    else:
        lines = [
            f"- Reference NUDGE-M gamma read back from its output (||e' - e|| over "
            f"moved rows): {g['gamma']:.6g} (spread {g['spread']:.1e})."
        ]
    growth = r["reference"][v]["memory"].get("peak_growth_gb")
    if growth is not None:
        lines.append(f"  Its peak RSS growth during the call: {growth:.2f} GB.")
    scored = r["reference"][v].get("both_gammas_scored")
    if scored:
        at = ", ".join(f"gamma {float(gk):.6g}: {h:.4f}" for gk, h in scored.items())
        lines.append(
            f"  Vectors differ beyond {PARITY_ATOL:g} because the chosen gammas differ "
            f"(ours {r['ours'][v]['gamma']:.6g}, reference {g['gamma']:.6g}). Validation "
            f"hit@1 by exact search at each (NUDGE-{v} refit with both as candidates): "
            f"{at}."
        )
    return lines


def skipped_note(v: str, s: dict[str, Any]) -> str:
    if "estimated_seconds" not in s:
        return f"- Reference NUDGE-{v} not run: {s['skipped']}."
    return (
        f"- Reference NUDGE-{v} not run: {s['skipped']}. Basis: {s['basis']} "
        f"(time x n ratio: ~{s['estimated_seconds']:.0f} s; measured peak growth x "
        f"n ratio + corpus: ~{cell(s.get('estimated_peak_gb'), '.1f')} GB)."
    )


def notes(r: dict[str, Any]) -> list[str]:
    """Per variant: a failed memory case, the reference's gamma, or why it was skipped."""
    lines: list[str] = []
    for v in ("N", "M"):
        m = r.get("memory", {}).get(v, {})
        if "error" in m:
            lines.append(f"- Memory case NUDGE-{v} failed: `{m['error'][-300:]}`")
        if v in r["reference"]:
            lines += reference_note(v, r)
        elif v in r["reference_skipped"]:
            lines.append(skipped_note(v, r["reference_skipped"][v]))
    return lines


def profile_section(r: dict[str, Any]) -> list[str]:
    """Where our fit's time goes, from the cProfile'd fits, against the floor."""
    floor = r["floor"]["seconds"]
    prof = {v: r["ours"][v].get("profile_s") or {} for v in ("N", "M")}
    if not any(prof.values()):
        return []
    lines = [
        "",
        "Where our fit's time goes (one extra cProfile'd fit each; cumulative seconds, "
        "nested stages overlap):",
        "",
        "| stage | NUDGE-N | NUDGE-M |",
        "|---|---|---|",
    ]
    for _, _, label in STAGES:
        if any(label in prof[v] for v in prof):
            cells = [cell(prof[v].get(label), ".3f") for v in ("N", "M")]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    lines += [_row("(floor, for scale)", lambda v: f"{floor:.3f}"), ""]
    for v in ("N", "M"):
        whole, scan = prof[v].get(WHOLE), prof[v].get(SCAN)
        if whole is None or scan is None:
            continue
        rest = {k: x for k, x in prof[v].items() if k not in (WHOLE, SCAN) and x is not None}
        most = max(rest, key=lambda k: rest[k]) if rest else None
        lines.append(
            f"- NUDGE-{v} (profiled): {whole:.2f} s = corpus pass {scan:.2f} s "
            f"({scan / floor:.2f}x the floor) + {whole - scan:.2f} s for the rest"
            + (f", of which the largest stage is {most} ({rest[most]:.3f} s)." if most else ".")
        )
    return lines


def load_line(r: dict[str, Any]) -> list[str]:
    """Other processes' CPU share during the timed runs, and the load average."""
    shares = list(r["floor"]["others_cpu_share"])
    shares += [x for f in r.get("floor_at_k", {}).values() for x in f["others_cpu_share"]]
    shares += [x for v in ("N", "M") for x in r["ours"][v]["others_cpu_share"]]
    shares += [x for v in r["reference"] for x in r["reference"][v]["others_cpu_share"]]
    la, lb = r["loadavg_start"], r["loadavg_end"]
    return [
        "",
        f"Other processes' share of the machine's CPU during the timed runs: at most "
        f"{max(shares):.1%} (median {median(shares):.1%}); 1-min load average at start / end "
        f"of this size: {la[0]:.2f} / {lb[0]:.2f}.",
        "",
    ]


def size_section(r: dict[str, Any]) -> list[str]:
    """One corpus size: its table, its notes, its profile and the machine's load."""
    lines = [f"### n = {r['n']:,} (corpus {r['corpus_gb']:.3f} GB float32)", ""]
    lines.append(
        f"{r.get('n_train', N_TRAIN):,} training / {r.get('n_val', N_VAL):,} validation "
        f"queries; {r['n_touched']:,} records "
        "have a training query. Each time is the median of the clean runs (other processes "
        f"below {CLEAN_SHARE:.0%} of the CPU), or of all runs where none was clean; the "
        "clean/total counts are in the table and every run is in the JSON."
    )
    lines += ["", "| quantity | NUDGE-N | NUDGE-M |", "|---|---|---|"]
    lines += timing_rows(r) + reference_rows(r) + memory_rows(r)
    lines += ["", *notes(r)]
    return lines + profile_section(r) + load_line(r)


def measured_lines() -> list[str]:
    """What the synthetic problem and each measured quantity are."""
    return [
        "## What is measured",
        "",
        f"- Synthetic corpus: n unit-norm float32 rows, d = {DIM}, in clusters of about "
        f"{DOCS_PER_CENTRE} (centres N(0, I), per-dimension noise {SPREAD}), generated chunk "
        "by chunk into one preallocated array (seeded). A pool of "
        f"{POOL:,} records each gets a hidden offset (norm {SHIFT}); each of the {N_TRAIN:,} "
        f"training and {N_VAL:,} validation queries is the normalised mean of 1-2 pool records "
        f"plus their offsets plus noise (norm {QUERY_NOISE}), so training queries show NUDGE "
        "where validation queries will land.",
    ]


def page(
    sizes: list[dict[str, Any]], scifact: dict[str, Any] | None, fvf: dict[str, Any] | None
) -> str:
    """The whole page, from the stored results of one run (and fit-vs-floor.json)."""
    first = sizes[0]
    ends = [r.get("elapsed_s_at_write") for r in [*sizes, scifact] if r is not None]
    total = max(ends) if ends and None not in ends else None  # type: ignore[type-var]
    lines = header_lines(first, total, MARK)
    lines += machine_lines(first)
    lines += measured_lines()
    lines += floor_lines(fvf)
    lines += ["", "## Synthetic corpora", ""]
    for r in sizes:
        lines += size_section(r)
    if scifact is not None:
        lines += scifact_section(scifact)
    lines += [
        "",
        "Adapter benchmarks (evaluation, QA generation, question embedding) are in",
        "[benchmarks-adapters.md](benchmarks-adapters.md).",
    ]
    return "\n".join(lines).rstrip() + "\n"


def floor_lines(fvf: dict[str, Any] | None) -> list[str]:
    """The floor, ours, the reference and memory bullets, with FAISS's ratios from
    ``fit-vs-floor.json`` (the speed targets' floor)."""
    from benchmarks.pages.floor import faiss_ratio_phrase

    return [
        f'- **floor**: one `exact_search(val_q, corpus, {FLOOR_K}, similarity="dot", '
        'device="cpu")`: the package\'s own exact top-10 pass, and the same pass at each '
        f"fit's own k (the depth its competitor scan searches: {fit_k('N')} for NUDGE-N, "
        f"{fit_k('M')} for NUDGE-M): a yardstick for where a fit's time goes, not the floor "
        "the speed targets use (that is FAISS's exact search, measured against the fits in "
        f"docs/scale.md: {faiss_ratio_phrase(fvf)}).",
        '- **ours**: `NudgeN(device="cpu").fit(corpus, train_q, train_rel, val_q, val_rel)` '
        "and the same with `NudgeM` (gamma chosen on the validation queries, hit@1).",
        '- **reference**: `nudge.NUDGEN(device=torch.device("cpu")).finetune_embeddings'
        "(corpus, train, val)` and `NUDGEM` likewise, timed in the same process (once; a "
        "second time only if other processes disturbed the first run and it took < 300 s). "
        "Max abs diff compares `est.nudged_embeddings(corpus)` with its output over the whole "
        "corpus. The reference does not return gamma, so its gamma is read back from its "
        "output (see notes per size).",
        "- **peak memory**: a fresh subprocess per variant (`--case ours-N|ours-M --size n`) "
        "reads RSS after imports (baseline), builds the corpus, fits, and reads "
        "`ru_maxrss`; target: peak - (baseline + corpus) <= 1 GB. The VmHWM window is the "
        "peak RSS during the fit alone minus RSS just before it (kernel peak mark reset via "
        "`/proc/self/clear_refs`).",
    ]


def load_results(
    results: Path, sizes: list[int] | None = None, skip_scifact: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
    """The stored results of one run (``sizes``: default every fit-<n>.json), checked."""
    if sizes is None:
        found = sorted(results.glob("fit-[0-9]*.json"), key=lambda p: int(p.stem.split("-")[1]))
        sizes = [int(p.stem.split("-")[1]) for p in found]
    runs = []
    for n in sorted(set(sizes)):
        path = results / f"fit-{n}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no stored results for n={n} at {path}")
        runs.append(json.loads(path.read_text()))
    if not runs:
        raise FileNotFoundError(f"no fit-<n>.json in {results}")
    sci_path = results / "scifact.json"
    scifact = None if skip_scifact or not sci_path.is_file() else json.loads(sci_path.read_text())
    started = {r["started"] for r in [*runs, *([scifact] if scifact else [])]}
    if len(started) > 1:
        raise ValueError(f"the stored JSON files come from different runs: {sorted(started)}")
    fvf_path = results / "fit-vs-floor.json"
    fvf = json.loads(fvf_path.read_text()) if fvf_path.is_file() else None
    return runs, scifact, fvf


def render(results: Path) -> str:
    """``docs/benchmarks.md`` as the stored results give it."""
    return page(*load_results(results))
