"""Store-native fits at scale: Milvus Lite and Qdrant local mode, against the in-memory fit.

For each store, in a fresh subprocess: the seeded synthetic problem of
``bench_fit.make_problem`` (unit-norm d=384 corpus, 5,000 training queries, validation
queries around a pool of relevant records) is loaded into the store (timed apart), then
``fit_by_id(NudgeN(), writer, ...)`` fits against it: only the named records are read and
the validation queries' competitors come from the store's own exact search. Reported:
the store's load time, the fit's time and its peak RSS above the process's RSS just before
it (the corpus array and, for Qdrant local mode, the store itself are already resident),
the in-memory ``NudgeN().fit`` over the same vectors (time, and how far its gamma and
vectors are from the store-native ones), and the floor: FAISS ``IndexFlatIP.search`` of
the validation queries for top-10 over the same vectors, same thread count.

Qdrant's local mode scores every point in Python per query (about 2.5 s per query at 1M
points here), so its runs use fewer validation queries (``--qdrant-val``); the in-memory
fit and the floor of that run use the same ones.

Run from the project root (about 20 minutes at 1M on 2 cores)::

    python benchmarks/bench_store_native.py --n 1000000 --json benchmarks/results/store-native.json
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import GB, make_problem, peak_window
from machine import machine

from nudge_integrations.core import NudgeN, fit_by_id

BATCH = 5_000


def load_milvus(corpus: np.ndarray, folder: Path) -> Any:
    """A Milvus Lite collection with a FLAT inner-product index (exact search)."""
    from pymilvus import DataType, MilvusClient

    from nudge_integrations.stores import MilvusWriter

    client = MilvusClient(str(folder / "milvus.db"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=corpus.shape[1])
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection("bench", schema=schema, index_params=params)
    for start in range(0, len(corpus), BATCH):
        rows = range(start, min(len(corpus), start + BATCH))
        client.insert("bench", [{"id": str(i), "vector": corpus[i]} for i in rows])
    client.flush("bench")
    return MilvusWriter(client, "bench", id_field="id", vector_field="vector", metric="IP")


def load_qdrant(corpus: np.ndarray, folder: Path) -> Any:
    """A Qdrant local-mode (in-memory) collection, cosine distance."""
    from qdrant_client import QdrantClient, models

    from nudge_integrations.stores import QdrantWriter

    client = QdrantClient(location=":memory:")
    client.create_collection(
        "bench",
        vectors_config=models.VectorParams(size=corpus.shape[1], distance=models.Distance.COSINE),
    )
    for start in range(0, len(corpus), BATCH):
        stop = min(len(corpus), start + BATCH)
        client.upload_collection("bench", vectors=corpus[start:stop], ids=list(range(start, stop)))
    return QdrantWriter(client, "bench")


LOADERS = {"milvus": load_milvus, "qdrant": load_qdrant}


def faiss_floor(corpus: np.ndarray, queries: np.ndarray) -> float:
    import faiss

    faiss.omp_set_num_threads(torch.get_num_threads())
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(corpus)
    start = time.perf_counter()
    index.search(queries, 10)
    return time.perf_counter() - start


def run_one(kind: str, n: int, n_val: int, seed: int) -> dict[str, Any]:
    """One store, measured in this process."""
    p = make_problem(n, seed)
    val_q, val_rel = p.val_q[:n_val], p.val_rel[:n_val]
    train = [[str(r) for r in rel] for rel in p.train_rel]
    val = [[str(r) for r in rel] for rel in val_rel]
    out: dict[str, Any] = {"store": kind, "n": n, "n_train": len(train), "n_val": len(val)}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        writer = LOADERS[kind](p.corpus, Path(tmp))
        out["load_s"] = time.perf_counter() - start
        gc.collect()
        mem: dict[str, Any] = {}
        with peak_window(mem):
            start = time.perf_counter()
            native = fit_by_id(NudgeN(device="cpu"), writer, p.train_q, train, val_q, val).result_
            out["native_fit_s"] = time.perf_counter() - start
        out["native_peak_growth_gb"] = mem["peak_growth_gb"]
        out["rss_before_gb"] = mem["rss_before_gb"]
        del writer
        gc.collect()
    ids = [str(i) for i in range(n)]
    start = time.perf_counter()
    memory = NudgeN(device="cpu").fit(p.corpus, p.train_q, train, val_q, val, ids=ids).result_
    out["memory_fit_s"] = time.perf_counter() - start
    out["floor_s"] = faiss_floor(p.corpus, val_q)
    a, b = memory.as_dict(), native.as_dict()
    out["gamma_native"], out["gamma_memory"] = native.gamma, memory.gamma
    out["same_moved_ids"] = set(a) == set(b)
    out["max_abs_diff"] = (
        float(max(np.abs(a[i] - b[i]).max() for i in a)) if out["same_moved_ids"] else None
    )
    out["moved"] = len(b)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--stores", nargs="+", default=["milvus", "qdrant"], choices=sorted(LOADERS))
    ap.add_argument("--milvus-val", type=int, default=1000)
    ap.add_argument("--qdrant-val", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # the child: one store, result as JSON on stdout
        n_val = args.milvus_val if args.one == "milvus" else args.qdrant_val
        print(json.dumps(run_one(args.one, args.n, n_val, args.seed)))
        return
    results = []
    for kind in args.stores:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            kind,
            "--n",
            str(args.n),
            "--seed",
            str(args.seed),
        ]
        cmd += ["--milvus-val", str(args.milvus_val), "--qdrant-val", str(args.qdrant_val)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(row)
        print(
            f"{kind:7s} n={row['n']:,} val={row['n_val']} load {row['load_s']:.1f} s | native fit "
            f"{row['native_fit_s']:.2f} s (+{row['native_peak_growth_gb']:.2f} GB peak) | "
            f"in-memory fit {row['memory_fit_s']:.2f} s | FAISS floor {row['floor_s']:.2f} s | "
            f"gamma {row['gamma_native']:.4g} vs {row['gamma_memory']:.4g}, max diff "
            f"{row['max_abs_diff']}",
            flush=True,
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        facts = {**machine(), "gb_unit": GB}
        args.json.write_text(json.dumps({"machine": facts, "results": results}, indent=2))


if __name__ == "__main__":
    main()
