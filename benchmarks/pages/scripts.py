"""The table of ``benchmarks/README.md``: each script, the question it answers, its
command, and its run time on the 2-core machine as its results file recorded it; and what
each results file recorded about its run (command, date, machine, versions, threads)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Script:
    """A row of the table: the command is a string, or read from the script's results."""

    path: str
    question: str
    command: str | Callable[[Path], str]
    took: Callable[[Path], str]

    def command_in(self, results: Path) -> str:
        """The command as the row shows it."""
        return self.command if isinstance(self.command, str) else self.command(results)


def _load(results: Path, name: str) -> Any:
    path = results / name
    return json.loads(path.read_text()) if path.is_file() else None


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def fit_time(results: Path) -> str:
    runs = [json.loads(p.read_text()) for p in results.glob("fit-[0-9]*.json")]
    sci = _load(results, "scifact.json")
    ends = [r.get("elapsed_s_at_write") for r in [*runs, *([sci] if sci else [])]]
    if not runs or None in ends:
        return NOT_RECORDED
    sizes = " and ".join(f"{r['n']:,}" for r in sorted(runs, key=lambda r: r["n"]))
    return f"{_minutes(max(e for e in ends if e is not None))} (n = {sizes}, with SciFact)"


def elapsed_of(name: str, key: str = "elapsed_s") -> Callable[[Path], str]:
    """The time a results file recorded under ``key`` (top level, or per run)."""

    def took(results: Path) -> str:
        data = _load(results, name)
        if data is None:
            return f"{NOT_RECORDED} (no {name})"
        if key in data:
            return _minutes(data[key])
        per_run = [r[key] for r in data.get("runs", []) if isinstance(r, dict) and key in r]
        return " + ".join(_minutes(s) for s in per_run) or NOT_RECORDED

    return took


def scale_time(results: Path) -> str:
    """Wall time of each scale case, summed per size, where the run recorded it."""
    said = []
    for path in sorted(results.glob("scale-*.json"), key=lambda p: int(p.stem.split("-")[1])):
        cases = json.loads(path.read_text())["cases"].values()
        walls = [c.get("wall_s") for c in cases]
        if walls and None not in walls:
            said.append(f"{_minutes(sum(walls))} at {path.stem.split('-')[1]}")
    return "; ".join(said) or f"{NOT_RECORDED} (each case's own seconds are)"


def paper_time(results: Path) -> str:
    """The full run's time, and the improvements section's when it was rerun alone."""
    data = _load(results, "paper.json")
    if data is None:
        return f"{NOT_RECORDED} (no paper.json)"
    said = f"{_minutes(data['total_s'])} (the whole run)"
    again = data.get("improvements_run")
    return said + (f"; `--only improvements` {_minutes(again['elapsed_s'])}" if again else "")


def fvf_time(results: Path) -> str:
    """Each stored size's run time (runs before 2026-12-07 did not record one)."""
    data = _load(results, "fit-vs-floor.json")
    if data is None:
        return f"{NOT_RECORDED} (no fit-vs-floor.json)"
    return "; ".join(
        f"{_minutes(r['elapsed_s']) if 'elapsed_s' in r else NOT_RECORDED} at n = {r['n']:,}"
        for r in sorted(data.get("runs", []), key=lambda r: r["n"])
    )


def query_embedding_time(results: Path) -> str:
    """The run's time, its size (and whether reduced), and its niceness and peak load."""
    data = _load(results, "query-embedding.json")
    if data is None:
        return f"{NOT_RECORDED} (no query-embedding.json)"
    s = data["settings"]
    size = f"{data['questions']} questions x {s['repeats']} repeats"
    if s["reduced"]:
        size += " (reduced)"
    load = max(data["loadavg_start"][0], data["loadavg_end"][0])
    nice = data.get("niceness")
    niced = f", niceness {nice}" if nice else ""
    return f"{_minutes(data['elapsed_s'])} ({size}; 1-min load up to {load:.1f}{niced})"


def never(_: Path) -> str:
    return NOT_RECORDED


def fvf_command(results: Path) -> str:
    """The newest run's recorded command (each size's run records its own)."""
    data = _load(results, "fit-vs-floor.json") or {}
    runs = [r["run"] for r in data.get("runs", []) if "command" in r.get("run", {})]
    if runs:
        newest = max(runs, key=lambda run: run.get("date_utc", ""))
        return f"`{newest['command']}` (its newest run, {newest.get('date_utc', 'undated')})"
    cmd = data.get("command")
    return f"`{cmd}` (as recorded)" if cmd else "`python benchmarks/bench_fit_vs_floor.py`"


SCRIPTS = (
    Script(
        "bench_fit.py",
        "How long do NudgeN / NudgeM fits take against the package's exact top-10 (and "
        "top-k) search and the reference nudge-ft, and how much memory do they add?",
        "`python benchmarks/bench_fit.py --sizes 100000 1000000 --out docs/benchmarks.md`",
        fit_time,
    ),
    Script(
        "bench_fit_vs_floor.py",
        "How close are in-memory fits to FAISS's exact search (top-10 and the fit's own k), "
        "alternating in one process?",
        fvf_command,
        fvf_time,
    ),
    Script(
        "bench_scale.py",
        "Do fits over 1M-10M records in memory, memory-mapped, from shards and on Ray stay "
        "near the FAISS floor and within memory targets?",
        "`python benchmarks/bench_scale.py make ...`, then `run --data ... --cases ...`",
        scale_time,
    ),
    Script(
        "bench_store_native.py",
        "What does a store-native fit (Milvus Lite, Qdrant local, Chroma) cost in time and "
        "memory at 1M records?",
        "`python benchmarks/bench_store_native.py --n 1000000 --json "
        "benchmarks/results/store-native.json`",
        elapsed_of("store-native.json"),
    ),
    Script(
        "bench_stores_production.py",
        "Swap, revert and recovery at 200k records on every persistent store, next to each "
        "store's own bulk update (owned by the lead; its page is docs/stores-production.md).",
        "`python benchmarks/bench_stores_production.py`",
        never,
    ),
    Script(
        "bench_swap_speed.py",
        "How many requests and how much time do swap and revert cost, next to Chroma's own update?",
        "`python benchmarks/bench_swap_speed.py --json benchmarks/results/swap-speed-20000.json`",
        elapsed_of("swap-speed-20000.json"),
    ),
    Script(
        "bench_eval.py",
        "How much faster is LlamaIndex evaluation in one exact pass than one retrieve() per query?",
        "`python benchmarks/bench_eval.py --json benchmarks/results/eval.json`",
        elapsed_of("eval.json", "total_seconds"),
    ),
    Script(
        "bench_qa_save.py",
        "What do batched saves of generated QA pairs cost against a write per passage?",
        "`python benchmarks/bench_qa_save.py --before-ref HEAD --json "
        "benchmarks/results/qa_save.json`",
        elapsed_of("qa_save.json"),
    ),
    Script(
        "bench_query_embedding.py",
        "How fast does NudgeFitter embed a fit's questions, by mode (one at a time, threads, "
        "batches)?",
        "`python benchmarks/bench_query_embedding.py` (300 questions, 5 repeats; writes "
        "`benchmarks/results/query-embedding.json`)",
        query_embedding_time,
    ),
    Script(
        "exp_chunk_relevance.py",
        "Which chunks of a relevant document should NUDGE pull: all of them or the best one?",
        "`python benchmarks/exp_chunk_relevance.py --extra 1000 --chunk-size 128 --json "
        "benchmarks/results/chunk-relevance.json`",
        elapsed_of("chunk-relevance.json"),
    ),
    Script(
        "paper/run.py",
        "NUDGE next to the alternatives (adapter, full fine-tune, nudge-ft) on SciFact, "
        "out-of-distribution, after inserts, and which improvements win on validation.",
        "`flock /tmp/nudge-cpu.lock python -m benchmarks.paper.run` (`--only improvements` "
        "reruns that section alone)",
        paper_time,
    ),
    Script(
        "paper/report.py",
        "Rewrites `docs/paper-comparison.md` and its plots from `paper.json` alone (no "
        "measurement; `python -m benchmarks.report` does the same among every page).",
        "`python -m benchmarks.paper.report [path/to/paper.json]`",
        never,
    ),
    Script(
        "report.py",
        "Regenerates every generated page and table from `benchmarks/results/*.json` (no "
        "measurement); `--check` only says which pages differ.",
        "`python -m benchmarks.report`",
        never,
    ),
)


def scripts_block(results: Path) -> str:
    """One row per script, its recorded run time read from its results file."""
    lines = [
        "| script | question it answers | command (project root) | run time, 2-core machine |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{s.path}` | {s.question} | {s.command_in(results)} | {s.took(results)} |"
        for s in SCRIPTS
    ]
    return "\n".join(lines) + "\n\n" + records_block(results)


#: What a run record holds, and the keys that hold it (``benchmarks/machine.py``'s record,
#: or the older layouts: ``started``, ``when``).
FIELDS: dict[str, tuple[str, ...]] = {
    "command": ("command",),
    "date": ("date_utc", "started", "when"),
    "machine": ("machine",),
    "package versions": ("versions",),
    "thread counts": ("threads",),
}


def run_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A results file's run records: each of its runs' ``run``, or its top level and ``run``."""
    runs = [r["run"] for r in data.get("runs", []) if isinstance(r, dict) and "run" in r]
    return runs or [{**data, **(data.get("run") or {})}]


def has(record: dict[str, Any], field: str) -> bool:
    """Whether a record names ``field`` under any of its keys."""
    return any(key in record for key in FIELDS[field])


def partly(data: dict[str, Any], field: str) -> list[str]:
    """The file's entries (a rerun, each case) that record ``field`` where its run does not."""
    return [
        key
        for key, value in data.items()
        if any(
            isinstance(v, dict) and has(v, field)
            for v in (value if isinstance(value, list) else [value])
        )
    ]


def gaps(data: dict[str, Any]) -> list[str]:
    """What the file's run records lack, each with where the file does record it, if anywhere."""
    out = []
    for field in FIELDS:
        if all(has(r, field) for r in run_records(data)):
            continue
        where = partly(data, field)
        out.append(field + (f" (only in {', '.join(f'`{w}`' for w in where)})" if where else ""))
    return out


def records_block(results: Path) -> str:
    """Which results files record their whole run, and what each of the others lacks."""
    files = sorted(results.glob("*.json"))
    lacking = {p.name: gaps(json.loads(p.read_text())) for p in files}
    full = [f"`{name}`" for name, g in lacking.items() if not g]
    lines = [
        f"What the {len(files)} results files record about their runs "
        f"({', '.join(FIELDS)}): all of it in {', '.join(full) or 'none'}; the others lack:",
        "",
    ]
    lines += [f"- `{name}`: {'; '.join(g)}" for name, g in lacking.items() if g]
    return "\n".join(lines)
