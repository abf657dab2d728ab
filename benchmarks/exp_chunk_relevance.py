"""Which chunks of a relevant document should NUDGE pull: all of them, or the best one?

SciFact (from ../shared/data), documents split by LlamaIndex's ``SentenceSplitter``, chunks
embedded with the offline all-MiniLM-L6-v2, the paper's 70/10/20 query split. The corpus is
every judged document plus a seeded sample of the others (``--extra``), to keep the
embedding time within reach of a 2-core CPU. Retrieval is scored per *document* (a
document ranks by its best chunk), the unit the QA data judges.

    python benchmarks/exp_chunk_relevance.py --extra 1000 --chunk-size 128 --out docs/ids.md \\
        --json benchmarks/results/chunk-relevance.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import command, pin_threads, record
from nudge_integrations.core import NudgeM, NudgeN
from nudge_integrations.core.metrics import evaluate
from nudge_integrations.data.beir import load_beir
from nudge_integrations.data.chunks import to_chunks
from nudge_integrations.data.splits import paper_split
from nudge_integrations.embedding import default_cache_dir, embed_texts, load_minilm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def doc_ranking(
    scores: np.ndarray, doc_of_chunk: np.ndarray, n_docs: int, depth: int
) -> np.ndarray:
    """Per query, documents ranked by their best chunk's score."""
    best = np.full((scores.shape[0], n_docs), -np.inf, dtype=np.float32)
    for j in range(scores.shape[0]):
        np.maximum.at(best[j], doc_of_chunk, scores[j])
    return np.argsort(-best, axis=1)[:, :depth]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extra", type=int, default=1000, help="unjudged documents to add")
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    args = parser.parse_args()
    from llama_index.core.node_parser import SentenceSplitter

    pin_threads()
    began = time.perf_counter()
    run = record(packages=("llama-index-core", "sentence-transformers"))

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(SHARED / "scifact-beir.tar.gz") as tar:
            tar.extractall(tmp, filter="data")
        full = load_beir(Path(tmp) / "scifact")
    judged = sorted({d for docs in full.relevant_docs.values() for d in docs})
    others = sorted(set(full.corpus) - set(judged))
    random.Random(0).shuffle(others)
    doc_ids = judged + others[: args.extra]
    splitter = SentenceSplitter(chunk_size=args.chunk_size, chunk_overlap=args.overlap)
    chunk_ids, chunk_texts, chunks_of = [], [], {}
    for d in doc_ids:
        pieces = splitter.split_text(full.corpus[d])
        chunks_of[d] = [f"{d}#{k}" for k in range(len(pieces))]
        chunk_ids += chunks_of[d]
        chunk_texts += pieces
    start = time.perf_counter()
    model = load_minilm()
    vectors = embed_texts(chunk_texts, model, cache_dir=default_cache_dir() / "embeddings")
    embed_s = time.perf_counter() - start
    q_ids = json.loads((SHARED / "scifact-minilm" / "query_ids.json").read_text())
    q_all = np.load(SHARED / "scifact-minilm" / "queries.npy")
    q_row = {q: i for i, q in enumerate(q_ids)}
    parts = paper_split(full)
    doc_row = {d: i for i, d in enumerate(doc_ids)}
    doc_of_chunk = np.array([doc_row[c.rsplit("#", 1)[0]] for c in chunk_ids])
    vec_of = dict(zip(chunk_ids, vectors, strict=True))
    known = set(chunk_ids)

    def queries(name: str) -> tuple[np.ndarray, list[dict[str, float]]]:
        ds = parts[name]
        return q_all[[q_row[q] for q in ds.query_ids]], ds.judgements()

    tr_q, tr_j = queries("train")
    va_q, va_j = queries("val")
    te_q, te_j = queries("test")
    te_rel = [{doc_row[d]: g for d, g in j.items()} for j in te_j]

    def test_ndcg(matrix: np.ndarray) -> dict[str, float]:
        ranked = doc_ranking(te_q @ matrix.T, doc_of_chunk, len(doc_ids), 10)
        return evaluate(ranked, te_rel, k=10, metrics=("ndcg", "recall"), n_rows=len(doc_ids))

    rows = {"no fine-tuning": {**test_ndcg(vectors), "gamma": 0.0, "moved": 0}}
    for rule in ("all", "best"):
        for name, cls in (("N", NudgeN), ("M", NudgeM)):
            tr = to_chunks(tr_j, chunks_of, known, rule=rule, queries=tr_q, vectors=vec_of)
            va = to_chunks(va_j, chunks_of, known, rule=rule, queries=va_q, vectors=vec_of)
            est = cls().fit(vectors, tr_q, tr, va_q, va, ids=chunk_ids)
            rows[f"NUDGE-{name}, {rule} chunks"] = {
                **test_ndcg(est.result_.apply(vectors)),
                "gamma": est.gamma_,
                "moved": len(est.result_.ids),
            }
    lines = [
        "| | test ndcg@10 | test recall@10 | gamma | chunks moved |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['gamma']:.4g} | "
            f"{r['moved']} |"
        )
    summary = (
        f"SciFact, {len(doc_ids)} documents ({len(judged)} judged + {args.extra} others) split "
        f"into {len(chunk_ids)} chunks (SentenceSplitter chunk_size={args.chunk_size}, "
        f"overlap={args.overlap}; {len(chunk_ids) / len(doc_ids):.2f} chunks per document), "
        f"all-MiniLM-L6-v2, paper split {len(tr_j)}/{len(va_j)}/{len(te_j)} queries; "
        f"documents ranked by their best chunk. Machine: {platform.machine()}, "
        f"{platform.python_version()}; chunk embedding {embed_s:.0f} s (cached after the "
        "first run)."
    )
    table = "\n".join(lines)
    if args.json:
        res: dict[str, Any] = {"command": command(), "run": run, "summary": summary}
        res["rows"] = rows
        res["elapsed_s"] = time.perf_counter() - began
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    print(summary)
    print(table)
    if args.out is not None:
        args.out.write_text(
            args.out.read_text().replace("<!-- chunk-table -->", f"{summary}\n\n{table}")
            if args.out.exists()
            else f"{summary}\n\n{table}\n"
        )


if __name__ == "__main__":
    main()
