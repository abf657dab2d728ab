"""Store-native fits at scale: Milvus Lite, Qdrant local mode and Chroma, against the
in-memory fit.

For each store, in a fresh subprocess: the seeded synthetic problem of
``bench_fit.make_problem`` (unit-norm d=384 corpus, 5,000 training queries, validation
queries around a pool of relevant records) is loaded into the store (timed apart), then
``fit_by_id(NudgeN(), writer, ...)`` fits against it: only the named records are read and
the validation queries' competitors come from the store's own search. Reported: the
store's load time, the fit's time and its peak RSS above two baselines: the process just
before the fit, with the store open (``native_peak_growth_gb``: what the fit adds to
what the user already has), and the process before the store was opened
(``native_peak_above_no_store_gb``: that plus the store, for Qdrant local mode and Chroma
in-process; Milvus Lite runs in its own process), the in-memory ``NudgeN().fit`` over the
same vectors (time, and how far its gamma and vectors are from the store-native ones),
and the floor: FAISS ``IndexFlatIP.search`` of the validation queries for top-10 over the
same vectors, same thread count.

Chroma (HNSW, approximate; not in the default ``--stores``) is fitted twice: with the
store's recall measured on ``recall_sample`` validation queries (the default) and with
``recall_sample=0``, so the recall pass's own time and memory show. ``qdrant-own-search``
is Qdrant local mode searched through its client (``query_batch_points``, over-fetching),
as before the chunked scan, for comparison (use a small ``--qdrant-val``: about 0.5 s per
query at 200k points, 2.5 s at 1M).

Run from the project root (about 20 minutes at 1M on 2 cores, most of it loading)::

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fit.memory import GB, current_rss, peak_window
from benchmarks.fit.problem import fit_k, make_problem
from benchmarks.machine import machine, pin_threads, record
from nudge_integrations.core import NudgeN, fit_by_id

BATCH = 5_000
#: The store clients whose versions the results record.
CLIENTS = ("pymilvus", "milvus-lite", "qdrant-client", "chromadb")


def load_milvus(corpus: np.ndarray, folder: Path) -> Any:
    """A Milvus Lite collection with a FLAT inner-product index (exact search)."""
    from pymilvus import DataType, MilvusClient

    from nudge_integrations.stores.milvus import MilvusWriter

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

    from nudge_integrations.stores.qdrant import qdrant_writer

    client = QdrantClient(location=":memory:")
    client.create_collection(
        "bench",
        vectors_config=models.VectorParams(size=corpus.shape[1], distance=models.Distance.COSINE),
    )
    for start in range(0, len(corpus), BATCH):
        stop = min(len(corpus), start + BATCH)
        client.upload_collection("bench", vectors=corpus[start:stop], ids=list(range(start, stop)))
    return qdrant_writer(client, "bench")


def load_chroma(corpus: np.ndarray, folder: Path) -> Any:
    """An in-process (ephemeral) Chroma collection: HNSW, cosine, default parameters."""
    import chromadb

    from nudge_integrations.stores.chroma import ChromaWriter

    client = chromadb.EphemeralClient()
    config: Any = {"hnsw": {"space": "cosine"}}
    col = client.create_collection("bench", configuration=config)
    for start in range(0, len(corpus), BATCH):
        stop = min(len(corpus), start + BATCH)
        col.add(ids=[str(i) for i in range(start, stop)], embeddings=corpus[start:stop])
    return ChromaWriter(col)


def load_qdrant_own(corpus: np.ndarray, folder: Path) -> Any:
    """Qdrant local mode searched by its own ``query_batch_points`` (over-fetching), as
    before the chunked scan: for comparison."""
    from nudge_integrations.stores.qdrant import QdrantWriter

    local = load_qdrant(corpus, folder)
    return QdrantWriter(local.client, local.collection)


LOADERS = {
    "milvus": load_milvus,
    "qdrant": load_qdrant,
    "qdrant-own-search": load_qdrant_own,
    "chroma": load_chroma,
}


def faiss_floor(corpus: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Seconds of FAISS's exact top-``k`` search of ``queries`` (index built untimed)."""
    import faiss

    faiss.omp_set_num_threads(torch.get_num_threads())
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(corpus)
    start = time.perf_counter()
    index.search(queries, k)
    return time.perf_counter() - start


def run_one(kind: str, n: int, n_val: int, seed: int) -> dict[str, Any]:
    """One store, measured in this process."""
    p = make_problem(n, seed)
    val_q, val_rel = p.val_q[:n_val], p.val_rel[:n_val]
    train = [[str(r) for r in rel] for rel in p.train_rel]
    val = [[str(r) for r in rel] for rel in val_rel]
    out: dict[str, Any] = {"store": kind, "n": n, "n_train": len(train), "n_val": len(val)}
    with tempfile.TemporaryDirectory() as tmp:
        gc.collect()
        no_store = current_rss()
        start = time.perf_counter()
        writer = LOADERS[kind](p.corpus, Path(tmp))
        out["load_s"] = time.perf_counter() - start
        gc.collect()
        if kind == "chroma":  # the same fit without the recall pass, first
            mem0: dict[str, Any] = {}
            with peak_window(mem0):
                start = time.perf_counter()
                fit_by_id(NudgeN(device="cpu"), writer, p.train_q, train, val_q, val,
                          recall_sample=0)  # fmt: skip
                out["native_fit_no_recall_s"] = time.perf_counter() - start
            out["native_no_recall_peak_growth_gb"] = mem0["peak_growth_gb"]
        mem: dict[str, Any] = {}
        with peak_window(mem):
            start = time.perf_counter()
            est = fit_by_id(NudgeN(device="cpu"), writer, p.train_q, train, val_q, val)
            out["native_fit_s"] = time.perf_counter() - start
        native = est.result_
        out["index_recall"] = getattr(est, "index_recall_", None)
        out["notes"] = list(native.notes)
        out["native_peak_growth_gb"] = mem["peak_growth_gb"]
        out["rss_before_gb"] = mem["rss_before_gb"]
        out["rss_before_store_gb"] = no_store / GB
        out["store_resident_gb"] = mem["rss_before_gb"] - no_store / GB
        out["native_peak_above_no_store_gb"] = mem["peak_gb"] - no_store / GB
        del writer
        gc.collect()
    ids = [str(i) for i in range(n)]
    start = time.perf_counter()
    memory = NudgeN(device="cpu").fit(p.corpus, p.train_q, train, val_q, val, ids=ids).result_
    out["memory_fit_s"] = time.perf_counter() - start
    out["floor_s"] = faiss_floor(p.corpus, val_q)
    out["floor_k1_s"] = faiss_floor(p.corpus, val_q, fit_k("N"))  # NudgeN's own k
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
    ap.add_argument("--qdrant-val", type=int, default=1000, help="also qdrant-own-search")
    ap.add_argument("--chroma-val", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # the child: one store, result as JSON on stdout
        import faiss  # noqa: F401  (loaded before pinning, so its pools are pinned too)

        pin_threads()
        n_val = {"milvus": args.milvus_val, "chroma": args.chroma_val}.get(
            args.one, args.qdrant_val
        )
        print(json.dumps(run_one(args.one, args.n, n_val, args.seed)))
        return
    results = []
    start = time.perf_counter()
    run = record(packages=CLIENTS)
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
        cmd += ["--chroma-val", str(args.chroma_val)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["run_date_utc"] = run["date_utc"]
        results.append(row)
        print(
            f"{kind} n={row['n']:,} val={row['n_val']} load {row['load_s']:.1f} s | native fit "
            f"{row['native_fit_s']:.2f} s (+{row['native_peak_growth_gb']:.2f} GB peak over the "
            f"open store, +{row['native_peak_above_no_store_gb']:.2f} GB over no store) | "
            f"in-memory fit {row['memory_fit_s']:.2f} s | FAISS floor {row['floor_s']:.2f} s | "
            f"gamma {row['gamma_native']:.4g} vs {row['gamma_memory']:.4g}, max diff "
            f"{row['max_abs_diff']}"
            + (f" | store recall {row['index_recall']:.3f}" if row.get("index_recall") else ""),
            flush=True,
        )
    if args.json:  # rows of other (store, n) pairs already in the file are kept
        args.json.parent.mkdir(parents=True, exist_ok=True)
        new = {(r["store"], r["n"]) for r in results}
        old = json.loads(args.json.read_text())["results"] if args.json.exists() else []
        kept = [r for r in old if (r["store"], r["n"]) not in new]
        facts = {**machine(), "gb_unit": GB}
        run["elapsed_s"] = time.perf_counter() - start
        out = {"machine": facts, "run": run, "results": kept + results}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
