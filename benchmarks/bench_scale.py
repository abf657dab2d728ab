"""Scale benchmark: fits over 1M and 10M records in memory, memory-mapped, from shards and on Ray.

The data come from ``bench_fit.make_problem``'s generator (same seed, same random stream),
written chunk by chunk into a shard folder (one shard, so the memmap case can map the
same file) together with the queries. Every case runs in a fresh subprocess that reports
its wall time and its peak *anonymous* RSS (``RssAnon`` of /proc, sampled every 10 ms;
page cache of the memory-mapped corpus is not counted), the Ray case adding its workers'.

Run from the project root (the data folder is outside the repository; ~15 GB at 10M)::

    python benchmarks/bench_scale.py make --size 1000000 --data /work/scale-data/1m
    python benchmarks/bench_scale.py make --size 10000000 --data /work/scale-data/10m
    python benchmarks/bench_scale.py run --data /work/scale-data/1m \\
        --cases floor-mem scan-mem mem-N mem-M floor-mmap memmap-N shards-N ray-N
    python benchmarks/bench_scale.py run --data /work/scale-data/10m \\
        --cases floor-mmap memmap-N ray-N
    # results: benchmarks/results/scale-<size>.json

Floor cases take a ``-k<k>`` suffix for FAISS at each fit's own k (``floor-mem-k1``,
``floor-mem-k2``, ``floor-mmap-k1``: NUDGE-N scans top-1, NUDGE-M top-2); the table shows
every fit against the top-10 floor and, where it was run, the floor at its own k. Each
case pins torch, FAISS and the BLAS pools to one thread count and records them; each run
appends its command, date, machine and versions to the file's ``runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fit import problem as bf
from benchmarks.fit.facts import machine_facts
from benchmarks.fit.timing import busy_cpu_s, log, wait_for_quiet
from benchmarks.machine import pin_threads, record, threads
from benchmarks.pages import scale as scale_page
from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.shards import ShardedCorpus, ShardWriter, fit_shards

ROOT = Path(__file__).resolve().parents[1]
GB = 1024**3


# --------------------------------------------------------------------------- data
def make_data(n: int, folder: Path, seed: int = 0, d: int = bf.DIM) -> None:
    """``bench_fit.make_problem(n, seed)`` streamed to a one-shard folder plus queries."""
    rng = np.random.default_rng(seed)
    n_centres = max(8, n // bf.DOCS_PER_CENTRE)
    centres = rng.standard_normal((n_centres, d), dtype=np.float32)
    block = np.empty((bf.GEN_CHUNK, d), dtype=np.float32)
    with ShardWriter(folder, d, rows_per_shard=n) as writer:
        for start in range(0, n, bf.GEN_CHUNK):
            stop = min(n, start + bf.GEN_CHUNK)
            b = block[: stop - start]
            np.take(centres, rng.integers(0, n_centres, stop - start), axis=0, out=b)
            b += np.float32(bf.SPREAD) * rng.standard_normal((stop - start, d), dtype=np.float32)
            b /= np.linalg.norm(b, axis=1, keepdims=True)
            writer.add(b, np.arange(start, stop).astype("S"))
    corpus = ShardedCorpus(folder).vectors(0)
    tq, tr, vq, vr = bf.pool_queries(rng, corpus, d)  # the same stream as make_problem's
    np.save(folder / "train_q.npy", tq)
    np.save(folder / "val_q.npy", vq)
    (folder / "rel.json").write_text(json.dumps({"train": tr, "val": vr, "seed": seed}))


def load_queries(folder: Path) -> tuple[np.ndarray, list[list[Any]], np.ndarray, list[list[Any]]]:
    rel = json.loads((folder / "rel.json").read_text())
    return (
        np.load(folder / "train_q.npy"),
        rel["train"],
        np.load(folder / "val_q.npy"),
        rel["val"],
    )


# ------------------------------------------------------------------------ memory
def rss_anon(pid: int | str = "self") -> int:
    """Anonymous resident memory of a process, bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def ray_worker_pids() -> list[int]:
    """Processes running Ray tasks (their command line starts with ``ray::``)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read(5) == b"ray::":
                        out.append(int(entry))
            except OSError:
                continue
    return out


class AnonPeak:
    """Samples this process's RssAnon (plus Ray workers', if asked) in a thread."""

    def __init__(self, with_ray: bool = False, every: float = 0.01) -> None:
        self.with_ray, self.every = with_ray, every
        self.peak = self.peak_self = self.peak_workers = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            own = rss_anon()
            workers = sum(rss_anon(p) for p in ray_worker_pids()) if self.with_ray else 0
            self.peak_self = max(self.peak_self, own)
            self.peak_workers = max(self.peak_workers, workers)
            self.peak = max(self.peak, own + workers)
            time.sleep(self.every if not self.with_ray else 0.1)

    def __enter__(self) -> AnonPeak:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


# ------------------------------------------------------------------------- cases
def floor_faiss(
    x: np.ndarray, vq: np.ndarray, k: int = bf.FLOOR_K
) -> tuple[np.ndarray, np.ndarray]:
    """FAISS exact top-``k`` by inner product: ``IndexFlatIP.search`` when the vectors are
    in memory; ``faiss.knn`` (the same kernel, no copy into an index) over a memmap."""
    import faiss

    faiss.omp_set_num_threads(torch.get_num_threads())
    if isinstance(x, np.memmap):
        d, i = faiss.knn(vq, x, k, faiss.METRIC_INNER_PRODUCT)
        return d, i
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    d, i = index.search(vq, k)
    return d, i


def floor_k(name: str) -> int:
    """The k of a floor case: ``floor-mem`` is top-10, ``floor-mmap-k1`` top-1."""
    _, _, k = name.partition("-k")
    return int(k) if k else bf.FLOOR_K


def run_case(name: str, folder: Path) -> dict[str, Any]:
    """One case, in this (fresh) process, with every thread pool pinned."""
    import faiss  # noqa: F401  (loaded before pinning, so its pools are pinned too)

    pin_threads()
    tq, tr, vq, vr = load_queries(folder)
    base = rss_anon()
    out: dict[str, Any] = {"case": name, "baseline_anon_gb": base / GB}
    path = folder / "shard-00000.npy"
    if "-mem" in name or name.startswith("mem-"):
        x: np.ndarray = np.load(path)  # the whole corpus in anonymous memory
    else:
        x = np.load(path, mmap_mode="r")
    out["corpus_gb"] = x.nbytes / GB
    out["n"] = int(x.shape[0])
    ids = None
    if name.startswith(("shards-", "ray-")):
        tr = [[str(r) for r in per] for per in tr]
        vr = [[str(r) for r in per] for per in vr]
    ray_start = None
    if name.startswith("ray-"):
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t0
        out["ray_start_s"] = ray_start
    with AnonPeak(with_ray=name.startswith("ray-")) as peak:
        t0 = time.perf_counter()
        if name.startswith("floor-"):
            _, got = floor_faiss(x, vq, floor_k(name))
            result: Any = {"top1": got[:5, 0].tolist()}
        elif name.startswith("scan-"):
            from nudge_integrations.core.search import scan_chunks

            _, got = scan_chunks(vq, x, bf.FLOOR_K, normalize=True)
            result = {"top1": got[:5, 0].tolist()}
        else:
            variant = name.split("-")[-1]
            est: NudgeN | NudgeM = NudgeN(device="cpu") if variant == "N" else NudgeM(device="cpu")
            if name.startswith(("mem-", "memmap-")):
                est.fit(x, tq, tr, vq, vr, ids=ids)
            elif name.startswith("shards-"):
                fit_shards(est, folder, tq, tr, vq, vr)
            else:
                from nudge_integrations.ray_engine import fit_ray

                fit_ray(cast(Any, est), folder, tq, tr, vq, vr)
            result = {
                "gamma": est.gamma_,
                "n_moved": len(est.result_),
                "best_score": est.result_.best_score,
                "baseline_score": est.result_.baseline_score,
            }
        out["seconds"] = time.perf_counter() - t0
    out.update(result)
    out["peak_anon_gb"] = peak.peak / GB
    out["peak_anon_self_gb"] = peak.peak_self / GB
    out["peak_anon_ray_workers_gb"] = peak.peak_workers / GB
    out["peak_anon_over_baseline_gb"] = (peak.peak - base) / GB
    out["threads"] = threads()
    return out


def run(folder: Path, cases: list[str], results: Path, max_wait: float) -> None:
    size = ShardedCorpus(folder).count
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"scale-{size}.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    report["machine"] = machine_facts()
    report.setdefault("cases", {})
    report.setdefault("runs", []).append({**record(packages=("ray",)), "cases": cases})
    for case in cases:
        wait_for_quiet(max_wait)
        busy0 = busy_cpu_s()
        t0 = time.perf_counter()
        cmd = [sys.executable, __file__, "case", case, "--data", str(folder)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            got: dict[str, Any] = {"error": proc.stderr.strip()[-1500:]}
        else:
            got = json.loads(proc.stdout.strip().splitlines()[-1])
        got["machine_busy_share"] = (busy_cpu_s() - busy0) / (wall * (os.cpu_count() or 1))
        got["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        got["wall_s"] = wall
        report["cases"][case] = got
        log(f"{case}: {json.dumps(got)[:400]}")
        path.write_text(json.dumps(report, indent=1))


def table(results: Path) -> str:
    """The markdown results table of every ``scale-*.json`` in ``results``."""
    return "\n".join(scale_page.table(scale_page.load(results)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("--size", type=int, required=True)
    mk.add_argument("--data", type=Path, required=True)
    mk.add_argument("--seed", type=int, default=0)
    rn = sub.add_parser("run")
    rn.add_argument("--data", type=Path, required=True)
    rn.add_argument("--cases", nargs="+", required=True)
    rn.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    rn.add_argument("--max-wait", type=float, default=300.0)
    tb = sub.add_parser("table")
    tb.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    cs = sub.add_parser("case")
    cs.add_argument("name")
    cs.add_argument("--data", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "make":
        t0 = time.perf_counter()
        make_data(args.size, args.data, args.seed)
        log(f"wrote {args.size} records to {args.data} in {time.perf_counter() - t0:.0f} s")
    elif args.cmd == "table":
        print(table(args.results))
    elif args.cmd == "run":
        run(args.data, args.cases, args.results, args.max_wait)
    else:
        print(json.dumps(run_case(args.name, args.data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
