"""The paper side by side with the alternatives, then beyond it: the one command.

Runs, in one process on SciFact (MiniLM, the paper's split): every method of
:mod:`benchmarks.paper.methods` (no fine-tuning, NUDGE-N/M ours and nudge-ft 0.1.2, a
linear query adapter, NUDGE on top of it, a time-boxed full fine-tune of MiniLM), the
OOD split for every method, records inserted after the fit, and the candidate
improvements; then writes ``benchmarks/results/paper.json`` and regenerates
``docs/paper-comparison.md`` with its plots under ``docs/img/``.

From the project root, on a quiet machine (the full fine-tunes use both cores)::

    flock /tmp/nudge-cpu.lock python -m benchmarks.paper.run

About 20 minutes on the 2-core machine named in the results; ``--ft-box`` sets each full
fine-tune's box for training plus validation (default 300 s; re-embedding the corpus with
the chosen checkpoint comes on top), ``--ft-box 0`` skips full fine-tuning, ``--smoke``
runs everything on a few queries without it (seconds; used by the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import command, machine, pin_threads, record
from benchmarks.paper import data, improvements, incremental, methods, report
from benchmarks.paper.ood import ood_split

RESULTS = data.ROOT / "benchmarks" / "results" / "paper.json"
#: Versions recorded beside the results: what each method runs on.
PACKAGES = ("nudge-ft", "sentence-transformers", "transformers", "scikit-learn", "matplotlib")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _rows(fitted: list[methods.Served], sets: dict[str, data.Queries]) -> list[dict[str, Any]]:
    out = []
    for m in fitted:
        info = {k: v for k, v in m.info.items() if k != "history"}
        out.append(
            {
                "method": m.name,
                "fit_s": m.fit_s,
                "embed_s": m.embed_s,
                "info": info,
                "history": m.info.get("history"),
                "metrics": m.evaluate(sets),
            }
        )
    return out


def run(
    ft_box_s: float, limit_queries: int | None = None, cmd: str | None = None
) -> dict[str, Any]:
    start = time.perf_counter()
    sections: dict[str, float] = {}
    d = data.load(limit_queries)
    train, val, test = (d.splits[s] for s in ("train", "val", "test"))
    log(f"SciFact: {d.n} records, train/val/test {len(train)}/{len(val)}/{len(test)}")

    t0 = time.perf_counter()
    main = methods.fit_all(d, train, val, ft_box_s=ft_box_s, log=log)
    main_rows = _rows(main, {"val": val, "test": test})
    sections["main comparison"] = time.perf_counter() - t0
    for r in main_rows:
        log(f"{r['method']}: test NDCG@10 {r['metrics']['test']['ndcg@10']:.4f}")

    t0 = time.perf_counter()
    ood = ood_split(d)
    log(f"OOD split: {ood.sizes}")
    ood_fitted = methods.fit_all(d, ood.train, ood.val, ft_box_s=ft_box_s, reference=False, log=log)
    ood_rows = _rows(ood_fitted, {"test ID": ood.test_id, "test OOD": ood.test_ood})
    sections["OOD split"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    inc = incremental.incremental(d, log=log)
    sections["records inserted after the fit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    imp = improvements.evaluate(d, ood, log=log, quick=limit_queries is not None)
    sections["improvements"] = time.perf_counter() - t0

    return {
        "machine": machine(),
        "run": record(cmd, packages=PACKAGES),
        "command": cmd or command(),
        "ft_box_s": ft_box_s,
        "limit_queries": limit_queries,
        "sizes": {"records": d.n, "train": len(train), "val": len(val), "test": len(test)},
        "main": main_rows,
        "ood": {"sizes": ood.sizes, "rows": ood_rows},
        "incremental": inc,
        "improvements": imp,
        "sections_s": sections,
        "total_s": time.perf_counter() - start,
        "loadavg_end": os.getloadavg(),
    }


def improvements_only(out: Path, limit_queries: int | None, cmd: str) -> dict[str, Any]:
    """Rerun the improvements section alone into an existing results file."""
    if not out.is_file():
        raise SystemExit(f"--only improvements needs an earlier run's results at {out}")
    res: dict[str, Any] = json.loads(out.read_text())
    start = time.perf_counter()
    d = data.load(limit_queries)
    again = record(cmd, packages=PACKAGES)
    res["improvements"] = improvements.evaluate(
        d, ood_split(d), log=log, quick=limit_queries is not None
    )
    res["improvements_run"] = {**again, "elapsed_s": time.perf_counter() - start}
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--ft-box", type=float, default=300.0, help="seconds per full fine-tune")
    ap.add_argument("--smoke", action="store_true", help="a few queries, no full fine-tune")
    ap.add_argument("--json", type=Path, default=None, help=f"results file (default {RESULTS})")
    ap.add_argument("--docs", type=Path, default=None, help="docs folder (default docs/)")
    ap.add_argument("--no-docs", action="store_true", help="write the JSON only")
    ap.add_argument(
        "--only",
        choices=["improvements"],
        help="rerun one section into the existing results file, keeping the others",
    )
    args = ap.parse_args(argv)
    pin_threads()
    if not data.available():
        print(f"SciFact data not found under {data.SHARED_DATA}: nothing to measure")
        return {}
    if args.smoke:
        methods.ADAPTER.update(lrs=(1e-3,), max_epochs=3)
    out = args.json or RESULTS
    if args.only:
        res = improvements_only(out, 40 if args.smoke else None, command(argv))
    else:
        res = run(0.0 if args.smoke else args.ft_box, 40 if args.smoke else None, command(argv))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    log(f"results in {out}")
    if not args.no_docs:
        report.write(res, args.docs or data.ROOT / "docs")
    return res


if __name__ == "__main__":
    main()
