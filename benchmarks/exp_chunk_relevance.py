"""Which chunks of a relevant document should NUDGE pull: all of them, or the best one?

SciFact (from ../shared/data), documents split by LlamaIndex's ``SentenceSplitter``, chunks
embedded with the offline all-MiniLM-L6-v2, the paper's 70/10/20 query split. The corpus is
every judged document plus a seeded sample of the others (``--extra``), to keep the
embedding time within reach of a 2-core CPU. Retrieval is scored per *document* (a
document ranks by its best chunk), the unit the QA data judges. The run is recorded
(settings, rows, provenance) in a results file; ``python -m benchmarks.report`` writes the
table and its conclusions into ``docs/ids.md`` (``benchmarks.pages.chunk_relevance``).

    python benchmarks/exp_chunk_relevance.py --extra 1000 --chunk-size 128 \\
        --json benchmarks/results/chunk-relevance.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import pin_threads, record
from nudge_integrations.core import REFERENCE_N_GRID, NudgeM, NudgeN
from nudge_integrations.core.metrics import evaluate
from nudge_integrations.data.beir import load_beir
from nudge_integrations.data.chunks import DEFAULT_RULE, ChunkRule, to_chunks
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.splits import paper_split
from nudge_integrations.embedding import MODEL_NAME, default_cache_dir, embed_texts, load_minilm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: The rules compared for which chunks of a relevant document NUDGE pulls.
RULES: tuple[ChunkRule, ...] = ("all", "best")


def doc_ranking(
    scores: np.ndarray, doc_of_chunk: np.ndarray, n_docs: int, depth: int
) -> np.ndarray:
    """Per query, documents ranked by their best chunk's score."""
    best = np.full((scores.shape[0], n_docs), -np.inf, dtype=np.float32)
    for j in range(scores.shape[0]):
        np.maximum.at(best[j], doc_of_chunk, scores[j])
    return np.argsort(-best, axis=1)[:, :depth]


@dataclass
class Chunked:
    """The documents kept (judged first), cut into chunks: ids, texts, each document's."""

    doc_ids: list[str]
    judged: int
    chunk_ids: list[str] = field(default_factory=list)
    chunk_texts: list[str] = field(default_factory=list)
    chunks_of: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Split:
    """One split's query vectors and ``{doc_id: gain}`` judgements, in the same order."""

    vectors: np.ndarray
    judgements: list[dict[str, float]]


def load_docs(extra: int) -> tuple[QADataset, list[str], int]:
    """SciFact, and the documents kept: every judged one, then ``extra`` others (seeded)."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(SHARED / "scifact-beir.tar.gz") as tar:
            tar.extractall(tmp, filter="data")
        full = load_beir(Path(tmp) / "scifact")
    judged = sorted({d for docs in full.relevant_docs.values() for d in docs})
    others = sorted(set(full.corpus) - set(judged))
    random.Random(0).shuffle(others)
    return full, judged + others[:extra], len(judged)


def chunk(texts: dict[str, str], doc_ids: list[str], judged: int, splitter: Any) -> Chunked:
    """Each document split by ``splitter``; chunk ``k`` of document ``d`` is ``d#k``."""
    out = Chunked(doc_ids, judged)
    for d in doc_ids:
        pieces = splitter.split_text(texts[d])
        out.chunks_of[d] = [f"{d}#{k}" for k in range(len(pieces))]
        out.chunk_ids += out.chunks_of[d]
        out.chunk_texts += pieces
    return out


def query_splits(full: QADataset) -> dict[str, Split]:
    """The paper split's train/val/test queries with their precomputed MiniLM vectors."""
    q_ids = json.loads((SHARED / "scifact-minilm" / "query_ids.json").read_text())
    q_all = np.load(SHARED / "scifact-minilm" / "queries.npy")
    q_row = {q: i for i, q in enumerate(q_ids)}
    return {
        name: Split(q_all[[q_row[q] for q in ds.query_ids]], ds.judgements())
        for name, ds in paper_split(full).items()
    }


def fit_rows(
    corpus: Chunked, vectors: np.ndarray, splits: dict[str, Split]
) -> dict[str, dict[str, float]]:
    """Test NDCG@10 and recall@10 by document without fine-tuning, then for NUDGE-N and
    NUDGE-M with either rule for which chunks of a relevant document to pull."""
    doc_row = {d: i for i, d in enumerate(corpus.doc_ids)}
    doc_of_chunk = np.array([doc_row[c.rsplit("#", 1)[0]] for c in corpus.chunk_ids])
    vec_of = dict(zip(corpus.chunk_ids, vectors, strict=True))
    known = set(corpus.chunk_ids)
    tr, va, te = splits["train"], splits["val"], splits["test"]
    te_rel = [{doc_row[d]: g for d, g in j.items()} for j in te.judgements]
    n_docs = len(corpus.doc_ids)

    def test_ndcg(matrix: np.ndarray) -> dict[str, float]:
        ranked = doc_ranking(te.vectors @ matrix.T, doc_of_chunk, n_docs, 10)
        return evaluate(ranked, te_rel, k=10, metrics=("ndcg", "recall"), n_rows=n_docs)

    def pairs(split: Split, rule: ChunkRule) -> list[dict[str, float]]:
        return to_chunks(
            split.judgements,
            corpus.chunks_of,
            known,
            rule=rule,
            queries=split.vectors,
            vectors=vec_of,
        )

    rows = {"no fine-tuning": {**test_ndcg(vectors), "gamma": 0.0, "moved": 0}}
    for rule in RULES:
        for name, cls in (("N", NudgeN), ("M", NudgeM)):
            tr_pairs, va_pairs = pairs(tr, rule), pairs(va, rule)
            est = cls().fit(
                vectors, tr.vectors, tr_pairs, va.vectors, va_pairs, ids=corpus.chunk_ids
            )
            rows[f"NUDGE-{name}, {rule} chunks"] = {
                **test_ndcg(est.result_.apply(vectors)),
                "gamma": est.gamma_,
                "moved": len(est.result_.ids),
            }
    return rows


def settings(
    args: argparse.Namespace, corpus: Chunked, splits: dict[str, Split], embed_s: float
) -> dict[str, Any]:
    """What was measured: corpus, chunking, model, split; the page says it from these."""
    return {
        "dataset": "SciFact",
        "documents": len(corpus.doc_ids),
        "judged": corpus.judged,
        "extra": args.extra,
        "chunks": len(corpus.chunk_ids),
        "chunk_size": args.chunk_size,
        "overlap": args.overlap,
        "model": MODEL_NAME,
        "queries": {name: len(splits[name].judgements) for name in ("train", "val", "test")},
        "ranking": "documents ranked by their best chunk",
        "default_rule": DEFAULT_RULE,
        "n_gamma_grid_max": max(REFERENCE_N_GRID),
        "embed_s": round(embed_s, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The corpus size and chunking to measure, and where to record the run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--extra", type=int, default=1000, help="unjudged documents to add")
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Embed the chunks, fit both variants under both rules, record the run."""
    args = parse_args(argv)
    from llama_index.core.node_parser import SentenceSplitter

    pin_threads()
    began = time.perf_counter()
    run = record(packages=("llama-index-core", "sentence-transformers"))
    full, doc_ids, judged = load_docs(args.extra)
    splitter = SentenceSplitter(chunk_size=args.chunk_size, chunk_overlap=args.overlap)
    corpus = chunk(full.corpus, doc_ids, judged, splitter)
    start = time.perf_counter()
    model = load_minilm()
    vectors = embed_texts(corpus.chunk_texts, model, cache_dir=default_cache_dir() / "embeddings")
    embed_s = time.perf_counter() - start
    splits = query_splits(full)
    res: dict[str, Any] = {
        "command": run["command"],
        "run": run,
        "settings": settings(args, corpus, splits, embed_s),
        "rows": fit_rows(corpus, vectors, splits),
        "elapsed_s": round(time.perf_counter() - began, 1),
    }
    print(
        json.dumps({k: res[k] for k in ("settings", "rows", "elapsed_s")}, indent=2, default=float)
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
