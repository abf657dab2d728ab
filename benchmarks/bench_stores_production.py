"""Production-size swaps on every persistent store, through LlamaIndex and LangChain
(issue 18): N records x 384 (default 200,000), 30,000 of them moved.

Per (store, framework), each in a fresh process under the benchmarks' CPU lock: building
the store (timed, in no ratio), the fit that reads the store, the store-native fit, the
swap (``swap_in(..., batch_size=None, show_progress=False)``), ``status`` from a new
process, the revert (checked bit for bit, or within the store's documented rounding),
the store's own bulk update of the same vectors through its own client (forward and
back, same run, same store), then a kill -9 at a random batch of a swap with a rollback
from a new process, and again with a finish; each checked against what the store must
hold. Where swap or revert takes over 1.5x the store's own update, the time in each part
(store reads and writes, markers, texts, ledger files, hashes) is measured from outside.

Run from the project root::

    python benchmarks/bench_stores_production.py                      # the matrix
    python benchmarks/bench_stores_production.py --repro --n 100000   # issue 18's two
    python benchmarks/bench_stores_production.py --cases qdrant:langchain --n 50000
    python benchmarks/bench_stores_production.py --report             # the docs page only

Results: ``benchmarks/results/stores-production.json``; the page:
``docs/stores-production.md`` (generated from the JSON).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from production import case, child, report
from production.versions import versions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "stores-production.json"
DOC = ROOT / "docs" / "stores-production.md"
LOCK = "/tmp/nudge-cpu.lock"
KINDS = ["chroma", "faiss", "qdrant", "lancedb", "pgvector", "milvus", "memory", "chroma-server"]
DEFAULT_CASES = [f"{k}:{fw}" for k in KINDS[:-1] for fw in ("langchain", "llama_index")] + [
    "chroma-server:langchain"
]


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="records in each store")
    ap.add_argument("--train", type=int, default=30_000, help="training questions (= moved)")
    ap.add_argument("--val", type=int, default=3_000, help="validation questions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", nargs="+", default=DEFAULT_CASES, help="store:framework ...")
    ap.add_argument("--repro", action="store_true", help="issue 18's reproductions (Chroma)")
    skip = "stores whose store-native fit is skipped (the swap uses the other fit)"
    ap.add_argument("--no-native", nargs="*", default=[], metavar="KIND", help=skip)
    ap.add_argument("--report", action="store_true", help="only regenerate the docs page")
    ap.add_argument("--workdir", default=tempfile.gettempdir(), help="where stores are built")
    ap.add_argument("--keep", action="store_true", help="keep the stores after a case")
    ap.add_argument("--json", type=Path, default=RESULTS)
    ap.add_argument("--doc", type=Path, default=DOC)
    ap.add_argument("--no-lock", action="store_true", help=f"do not take {LOCK}")
    # a case (or one of its steps) in this process: used by the runner itself
    ap.add_argument("--case", nargs=2, metavar=("KIND", "FRAMEWORK"), help=argparse.SUPPRESS)
    ap.add_argument("--case-json", help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--kill-seed", type=int, default=0, help=argparse.SUPPRESS)
    return ap.parse_args()


def load(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    return {"cases": [], "reproductions": [], "runs": []}


def run_case(args: argparse.Namespace, spec: str, command: str) -> dict[str, Any]:
    """One case in a fresh process (under the CPU lock); its findings."""
    kind, framework = spec.split(":")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    cmd = [sys.executable, __file__, "--case", kind, framework, "--case-json", str(out),
           "--n", str(args.n), "--train", str(args.train), "--val", str(args.val),
           "--seed", str(args.seed), "--workdir", args.workdir]  # fmt: skip
    cmd += ["--repro"] if args.repro else []
    cmd += ["--no-native", *args.no_native] if args.no_native else []
    cmd += ["--keep"] if args.keep else []
    if not args.no_lock:
        cmd = ["flock", LOCK, *cmd]
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    git = {"commit": _git("rev-parse", "HEAD"),
           "package_changes_uncommitted": _git("status", "--porcelain", "nudge_integrations")
           .splitlines()}  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    row: dict[str, Any] = json.loads(out.read_text()) if out.stat().st_size else {}
    out.unlink()
    row.setdefault("store", kind)
    row.setdefault("framework", framework)
    row.setdefault("n", args.n)
    if done.returncode != 0 and row.get("status", "running") == "running":
        row["status"] = f"crashed (exit {done.returncode}): {done.stderr[-1500:]}"
    kind_of_run = "reproduction" if args.repro else "matrix"
    row.update(started_utc=started, git=git, command=command, kind=kind_of_run)
    return row


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def merge(data: dict[str, Any], row: dict[str, Any], key: str) -> None:
    """Replace the row of the same (store, framework, n), keep the others."""
    same = (row["store"], row["framework"], row["n"])
    data[key] = [r for r in data[key] if (r["store"], r["framework"], r["n"]) != same] + [row]


def main() -> None:
    args = parse()
    if args.child:
        return child.main(args)
    if args.case:
        return case.main(args)
    if not args.report:
        command = "python benchmarks/bench_stores_production.py " + shlex.join(sys.argv[1:])
        key = "reproductions" if args.repro else "cases"
        specs = ["chroma:langchain", "chroma:llama_index"] if args.repro else args.cases
        for spec in specs:
            row = run_case(args, spec, command)
            data = load(args.json)  # as it is now: another run may have added cases
            merge(data, row, key)
            data["machine"], data["versions"] = versions()
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(data, indent=1, default=str) + "\n")
            args.doc.write_text(report.page(data))
            print(report.line(row), flush=True)
        return None
    args.doc.write_text(report.page(load(args.json)))
    return None


if __name__ == "__main__":
    main()
