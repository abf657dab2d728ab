"""The command line of ``benchmarks/bench_fit.py``: measure, store the JSON, write the page."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.fit.facts import machine_facts
from benchmarks.fit.measure import measure_in_process
from benchmarks.fit.memory_cases import memory_case, memory_cases
from benchmarks.fit.report import load_results, page
from benchmarks.fit.scifact import bench_scifact
from benchmarks.fit.timing import log
from benchmarks.machine import command, now_utc, pin_threads, record

ROOT = Path(__file__).resolve().parents[2]
#: Versions recorded beside the results: the reference the fits are compared with.
PACKAGES = ("nudge-ft",)


def parse_args(argv: Sequence[str] | None = None, doc: str | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    ap.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of floor and our fits")
    ap.add_argument("--scifact-repeats", type=int, default=5)
    ap.add_argument("--skip-reference", action="store_true", help="do not run nudge-ft")
    ap.add_argument("--skip-scifact", action="store_true")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile'd fits")
    ap.add_argument(
        "--max-wait",
        type=float,
        default=300.0,
        help="seconds to wait for other processes to go quiet before each timed section",
    )
    ap.add_argument(
        "--from-json",
        action="store_true",
        help="only rewrite --out from the JSON in --results-dir of an earlier run of --sizes",
    )
    ap.add_argument("--case", choices=["ours-N", "ours-M"], help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def render_from_json(args: argparse.Namespace) -> int:
    """Rewrite the report from the stored JSON of an earlier run (no measurement)."""
    try:
        sizes, scifact, fvf = load_results(args.results_dir, args.sizes, args.skip_scifact)
    except (FileNotFoundError, ValueError) as exc:
        print(f"{exc}; rerun instead", file=sys.stderr)
        return 1
    args.out.write_text(page(sizes, scifact, fvf))
    log(f"wrote {args.out} from {args.results_dir}")
    return 0


def measure(args: argparse.Namespace, cmd: str) -> int:
    """Measure every size (and SciFact), store each result, then write the page."""
    started = now_utc()[:16] + " UTC"
    t_start = time.perf_counter()
    pin_threads()
    facts = machine_facts()
    run = record(cmd, packages=PACKAGES)
    log(
        f"machine: {facts['cpu']}, {facts['logical_cores']} cores, torch {facts['torch']} "
        f"({facts['torch_threads']} threads)"
    )
    args.results_dir.mkdir(parents=True, exist_ok=True)
    done: dict[int, dict[str, Any]] = {}
    sizes = sorted(set(args.sizes))
    memory = {n: memory_cases(n, args.seed) for n in sizes} if not args.no_memory else {}
    stamp = {"machine": facts, "run": run, "command": cmd, "started": started}
    for n in sizes:
        res = measure_in_process(n, args, done)
        res["memory"] = memory.get(n, {})
        res.update({**stamp, "seed": args.seed})
        res["elapsed_s_at_write"] = time.perf_counter() - t_start
        done[n] = res
        out = args.results_dir / f"fit-{n}.json"
        out.write_text(json.dumps(res, indent=2) + "\n")
        log(f"wrote {out}")
    scifact = None
    if not args.skip_scifact:
        scifact = {**bench_scifact(args), **stamp}
        scifact["elapsed_s_at_write"] = time.perf_counter() - t_start
        (args.results_dir / "scifact.json").write_text(json.dumps(scifact, indent=2) + "\n")
    fvf_path = args.results_dir / "fit-vs-floor.json"
    fvf = json.loads(fvf_path.read_text()) if fvf_path.is_file() else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page([done[n] for n in sorted(done)], scifact, fvf))
    log(f"wrote {args.out}")
    return 0


def main(argv: Sequence[str] | None = None, doc: str | None = None) -> int:
    args = parse_args(argv, doc)
    if args.case:  # a peak-memory subprocess: print one JSON line
        pin_threads()
        print(json.dumps(memory_case(args.case[-1], args.size, args.seed)))
        return 0
    if args.from_json:
        return render_from_json(args)
    return measure(args, command(list(sys.argv[1:] if argv is None else argv)))
