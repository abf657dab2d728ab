"""QA generation with a save file: batched saves vs a write after every passage.

A synthetic corpus (default 1,900 passages of about 1,300 characters, seeded) is sent to
a fake LLM that answers at once with two questions, so the time is the generation
machinery and the save file alone. Measured in one process, each case in a fresh temp
folder, the median of ``--repeats`` runs:

* ``no save_path``: nothing written (the floor);
* ``every passage``: ``save_every=1, save_interval=None`` (what every run did before);
* ``defaults``: the current defaults (batches of ``save_every`` passages or
  ``save_interval`` seconds, and at the end);
* with ``--before-ref REF``: also the module as it was at git revision ``REF`` with its
  own defaults, loaded from ``git show`` (read-only), for a true before/after.

Run from the project root::

    python benchmarks/bench_qa_save.py --before-ref HEAD
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import command, pin_threads, record
from nudge_integrations.data import qa_generation

ROOT = Path(__file__).resolve().parents[1]
MODULE = "nudge_integrations/data/qa_generation.py"
WORDS = (
    "cell",
    "protein",
    "gene",
    "expression",
    "tumour",
    "patient",
    "study",
    "trial",
    "dose",
    "response",
    "receptor",
    "pathway",
    "signal",
    "binding",
    "immune",
    "infection",
)


def corpus(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"doc{i}", " ".join(rng.choices(WORDS, k=200))) for i in range(n)]


async def fake_llm(prompt: str) -> str:
    """Answers at once: two questions naming the passage's first words."""
    await asyncio.sleep(0)
    head = prompt.split("---------------------\n", 1)[1][:40]
    return f"1. What does {head} show?\n2. Why does {head} matter?"


def old_module(ref: str) -> ModuleType:
    """``qa_generation`` as it was at git revision ``ref``."""
    source = subprocess.run(
        ["git", "show", f"{ref}:{MODULE}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    tmp = Path(tempfile.mkdtemp()) / "qa_generation_before.py"
    tmp.write_text(source)
    spec = importlib.util.spec_from_file_location("qa_generation_before", tmp)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run(
    generate: Callable[..., Coroutine[Any, Any, Any]], nodes: list[tuple[str, str]], **options: Any
) -> tuple[float, int]:
    """Seconds for one run in a fresh folder, and the save file's size."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "qa.json"
        if options.pop("save", True):
            options["save_path"] = path
        start = time.perf_counter()
        data = asyncio.run(generate(nodes, fake_llm, **options))
        seconds = time.perf_counter() - start
        assert len(data.queries) == 2 * len(nodes)
        return seconds, path.stat().st_size if path.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--passages", type=int, default=1900)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before-ref", help="also time the module at this git revision")
    ap.add_argument("--json", type=Path, help="write the raw results here")
    args = ap.parse_args()
    pin_threads()
    start = time.perf_counter()
    nodes = corpus(args.passages)
    new = qa_generation.agenerate_qa_dataset
    cases: dict[str, tuple[Callable[..., Coroutine[Any, Any, Any]], dict[str, Any]]] = {
        "no save_path": (new, {"save": False}),
        "every passage (save_every=1, save_interval=None)": (
            new,
            {"save_every": 1, "save_interval": None},
        ),
        "defaults (save_every=100, save_interval=10 s)": (new, {}),
    }
    if args.before_ref:
        cases[f"before: module at {args.before_ref}, its defaults"] = (
            old_module(args.before_ref).agenerate_qa_dataset,
            {},
        )
    res: dict[str, Any] = {
        "command": command(),
        "run": record(),
        "passages": args.passages,
        "loadavg_start": os.getloadavg(),
        "cases": {},
    }
    for label, (fn, opts) in cases.items():
        runs = [run(fn, nodes, **dict(opts)) for _ in range(args.repeats)]
        seconds = [s for s, _ in runs]
        res["cases"][label] = {
            "seconds": statistics.median(seconds),
            "runs": seconds,
            "file_bytes": runs[0][1],
        }
        print(f"{label}: {statistics.median(seconds):.2f} s (runs {seconds})", file=sys.stderr)
    res["loadavg_end"] = os.getloadavg()
    res["elapsed_s"] = time.perf_counter() - start
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    print("| case | median s | runs, s |\n|---|---|---|")
    for label, row in res["cases"].items():
        runs_s = ", ".join(f"{s:.2f}" for s in row["runs"])
        print(f"| {label} | {row['seconds']:.2f} | {runs_s} |")


if __name__ == "__main__":
    main()
