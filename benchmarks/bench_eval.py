"""LlamaIndex evaluation: one ``retrieve()`` per query vs one exact pass, on SciFact.

SciFact (5,183 records, MiniLM embeddings precomputed in ``../shared/data``) goes into a
``VectorStoreIndex`` on LlamaIndex's default ``SimpleVectorStore`` (nodes carry their
vectors, so nothing is embedded to build it), and
``nudge_integrations.llama_index.evaluation.evaluate_retriever`` scores the NUDGE paper
split's 221 test queries twice in the same process: ``fast=False`` (the old path, one
``retriever.retrieve`` per query) and the default (queries embedded concurrently, one
exact cosine pass over the store's vectors). Two query models:

* ``lookup``: a ``BaseEmbedding`` returning the precomputed query vectors by text, so the
  times are retrieval (and bookkeeping) alone;
* ``minilm``: the offline all-MiniLM-L6-v2 (``nudge_integrations.embedding.load_minilm``)
  embedding each query, as a user's model would.

It also times a ``NudgeRetriever`` (NUDGE-N fitted on the train/val split, lookup model).
Both paths must give the same metrics; the ranked lists are compared too.

Run from the project root (about 5 minutes on 2 cores, most of it the old path)::

    python benchmarks/bench_eval.py --json benchmarks/results/eval.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode
from pydantic import PrivateAttr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import command, machine, pin_threads, record
from nudge_integrations.data import load_beir, paper_split
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.llama_index.embeddings import EmbeddingCache
from nudge_integrations.llama_index.evaluation import (
    evaluate_retriever,
    exact_plan,
    ranked_node_ids,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SCIFACT_EMB = SHARED_DATA / "scifact-minilm"
SCIFACT_BEIR = SHARED_DATA / "scifact-beir.tar.gz"


class LookupEmbedding(BaseEmbedding):
    """Precomputed query vectors by text: isolates retrieval from embedding cost."""

    _table: dict[str, list[float]] = PrivateAttr(default_factory=dict)

    def __init__(self, table: dict[str, list[float]]) -> None:
        super().__init__(model_name="lookup")
        self._table = table

    @classmethod
    def class_name(cls) -> str:
        return "LookupEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._table[query]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._table[query]

    def _get_text_embedding(self, text: str) -> list[float]:
        raise KeyError("LookupEmbedding embeds only known queries: give nodes their vectors")


class MiniLMEmbedding(BaseEmbedding):
    """The offline all-MiniLM-L6-v2 (unit-norm, as the precomputed vectors), one text a call."""

    _model: Any = PrivateAttr()

    def __init__(self) -> None:
        from nudge_integrations.embedding import load_minilm

        super().__init__(model_name="all-MiniLM-L6-v2")
        self._model = load_minilm("cpu")

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def _encode(self, text: str) -> list[float]:
        vec = self._model.encode(text, normalize_embeddings=True, convert_to_numpy=True)
        return [float(x) for x in vec]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._encode(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode(text)


def load_scifact() -> tuple[dict[str, QADataset], list[TextNode], dict[str, list[float]]]:
    """The paper split, nodes carrying their MiniLM vectors, and query vectors by text."""
    corpus = np.load(SCIFACT_EMB / "corpus.npy")
    queries = np.load(SCIFACT_EMB / "queries.npy")
    corpus_ids = json.loads((SCIFACT_EMB / "corpus_ids.json").read_text())
    query_ids = json.loads((SCIFACT_EMB / "query_ids.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(SCIFACT_BEIR) as tar:
            tar.extractall(tmp, filter="data")
        data = load_beir(Path(tmp) / "scifact")
    parts = paper_split(data)
    nodes = [
        TextNode(id_=doc, text=data.corpus[doc], embedding=corpus[i].tolist())
        for i, doc in enumerate(corpus_ids)
    ]
    qrow = {q: i for i, q in enumerate(query_ids)}
    table = {data.queries[q]: queries[qrow[q]].tolist() for q in data.query_ids}
    return parts, nodes, table


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def compare(label: str, retriever: BaseRetriever, test: QADataset, repeats: int) -> dict[str, Any]:
    """Old (per query) once, new (one pass) ``repeats`` times; metrics and lists compared."""
    print(f"{label}: per-query path ...", file=sys.stderr, flush=True)
    old_s, old = timed(lambda: evaluate_retriever(retriever, test, fast=False))
    new_runs = []
    for _ in range(repeats):
        s, new = timed(lambda: evaluate_retriever(retriever, test))
        new_runs.append(s)
    texts = [test.queries[q] for q in test.query_ids]
    plan = exact_plan(retriever)
    embed_s = None
    if plan is not None:  # the new path's query-embedding share, timed on its own
        embed_s, _ = timed(lambda: EmbeddingCache(plan.embed_model).embed_queries(texts))
    fast = ranked_node_ids(retriever, texts)
    slow = ranked_node_ids(retriever, texts, fast=False)
    new_s = statistics.median(new_runs)
    row = {
        "label": label,
        "queries": len(test),
        "old_seconds": old_s,
        "new_seconds": new_s,
        "new_runs": new_runs,
        "new_embed_seconds": embed_s,
        "speedup": old_s / new_s,
        "metrics_old": old,
        "metrics_new": new,
        "max_metric_diff": max(abs(old[m] - new[m]) for m in old),
        "identical_lists": sum(a == b for a, b in zip(fast, slow, strict=True)),
        "same_top10_sets": sum(set(a) == set(b) for a, b in zip(fast, slow, strict=True)),
    }
    print(
        f"{label}: old {old_s:.2f} s, new {new_s:.3f} s ({row['speedup']:.0f}x), "
        f"ndcg@10 {old['ndcg@10']:.4f} / {new['ndcg@10']:.4f}, identical lists "
        f"{row['identical_lists']}/{len(test)}",
        file=sys.stderr,
        flush=True,
    )
    return row


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "| retriever, query model | per query (old), s | one pass (new), s | of which "
        "embedding queries, s | speed-up | NDCG@10 old / new | identical top-10 lists |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['label']} | {r['old_seconds']:.1f} | {r['new_seconds']:.2f} | "
            f"{r['new_embed_seconds']:.2f} | "
            f"{r['speedup']:.0f}x | {r['metrics_old']['ndcg@10']:.4f} / "
            f"{r['metrics_new']['ndcg@10']:.4f} | {r['identical_lists']}/{r['queries']} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--repeats", type=int, default=3, help="runs of the new path (median)")
    ap.add_argument("--skip-minilm", action="store_true", help="lookup query model only")
    ap.add_argument("--json", type=Path, help="write the raw results here")
    ap.add_argument(
        "--torch-threads", type=int, default=1, help="MiniLM threads (1: robust to a busy CPU)"
    )
    args = ap.parse_args()
    import torch

    pin_threads()  # BLAS and OpenMP pools at the usable cores, recorded
    torch.set_num_threads(args.torch_threads)
    if not (SCIFACT_EMB / "corpus.npy").is_file() or not SCIFACT_BEIR.is_file():
        print(f"SciFact data not found under {SHARED_DATA}: nothing to measure")
        return
    parts, nodes, table = load_scifact()
    test = parts["test"]
    lookup = LookupEmbedding(table)
    res: dict[str, Any] = {
        "machine": machine(),
        "run": record(packages=("llama-index-core", "sentence-transformers")),
        "command": command(),
        "loadavg_start": os.getloadavg(),
        "rows": [],
    }
    t0 = time.perf_counter()
    build_s, index = timed(lambda: VectorStoreIndex(nodes, embed_model=lookup))
    res["index_build_seconds"] = build_s
    res["rows"].append(
        compare(
            "SimpleVectorStore, lookup", index.as_retriever(similarity_top_k=10), test, args.repeats
        )
    )
    if not args.skip_minilm:
        minilm = MiniLMEmbedding()
        retriever = VectorStoreIndex(nodes, embed_model=minilm).as_retriever(similarity_top_k=10)
        res["rows"].append(compare("SimpleVectorStore, MiniLM", retriever, test, args.repeats))
    engine = NudgeFinetuneEngine(
        parts["train"], lookup, corpus=nodes, val_dataset=parts["val"], device="cpu"
    )
    engine.finetune()
    res["rows"].append(
        compare("NudgeRetriever (NUDGE-N), lookup", engine.as_retriever(10), test, args.repeats)
    )
    res["total_seconds"] = time.perf_counter() - t0
    res["loadavg_end"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    print(markdown(res))


if __name__ == "__main__":
    main()
