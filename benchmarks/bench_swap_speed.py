"""Swap and revert speed through the nudge ledger, next to the store's own bulk update.

Two stores, each with ``--n`` random unit vectors of ``--dim`` and ``--moved`` of them
nudged:

* a dict-backed ``MarkedWriter`` that counts its requests (vector reads and writes,
  marker reads and writes, texts): how many requests and records a swap, a second swap
  of other records and a revert cost, which shows any work that grows with the store
  or the ledger rather than with the records moved;
* a real Chroma collection (embedded ``PersistentClient`` in a temporary folder, cosine
  HNSW): Chroma's own ``collection.update`` of the moved vectors in batches of its
  ``get_max_batch_size()`` (forward and back), then the lifecycle's swap and revert of
  the same vectors, timed in the same run, with the seconds spent in each writer method
  (vector and marker reads and writes; the rest is the ledger and the comparisons).

Run from the project root (about a minute on 2 cores)::

    python benchmarks/bench_swap_speed.py --json benchmarks/results/swap-speed-20000.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import machine, pin_threads, record
from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.base import Limits, MarkedWriter
from nudge_integrations.stores.ledger import NudgeLedger, text_hash


class CountingStore(MarkedWriter):
    """Vectors and markers in dicts; counts every request and the records it carries."""

    similarity: str | None = "cosine"

    def __init__(self, vectors: dict[str, NDArray[np.float32]], limits: Limits) -> None:
        self.vectors = vectors
        self.marks: dict[str, str] = {}
        self.limits = limits
        self.requests: Counter[str] = Counter()
        self.records: Counter[str] = Counter()

    def _count(self, kind: str, n: int) -> None:
        self.requests[kind] += 1
        self.records[kind] += n

    def all_ids(self) -> list[str]:
        return list(self.vectors)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        self._count("read", len(ids))
        return {i: self.vectors[i] for i in ids if i in self.vectors}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        self._count("write", len(vectors))
        self.vectors.update({i: np.asarray(v, np.float32) for i, v in vectors.items()})

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        self._count("read_markers", len(ids))
        return {i: self.marks[i] for i in ids if i in self.marks}

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        self._count("write_markers", len(ids))
        for i in ids:
            if value is None:
                self.marks.pop(i, None)
            else:
                self.marks[i] = value

    def texts(self, ids: Any) -> dict[str, str]:
        self._count("texts", len(ids))
        return {i: f"text {i}" for i in ids if i in self.vectors}


def problem(
    n: int, moved: int, dim: int
) -> tuple[list[str], NDArray[np.float32], NDArray[np.float32]]:
    """Ids, unit base vectors and the moved records' unit nudged vectors (seeded)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, dim)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    nudged = base[:moved] + 0.05 * rng.normal(size=(moved, dim)).astype(np.float32)
    nudged /= np.linalg.norm(nudged, axis=1, keepdims=True)
    return [f"r{i}" for i in range(n)], base, nudged.astype(np.float32)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class Timers:
    """Seconds and calls spent in a writer's public reads and writes, by method (the
    writer's own methods wrapped on the instance)."""

    METHODS = ("read", "write", "read_markers", "write_markers")

    def __init__(self, writer: Any) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        for name in self.METHODS:
            if hasattr(writer, name):
                setattr(writer, name, self._wrap(name, getattr(writer, name)))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
                self.calls[name] += 1

        return call

    def take(self) -> dict[str, Any]:
        out = {k: round(v, 3) for k, v in self.seconds.items()}
        self.seconds.clear()
        self.calls.clear()
        return out


def swaps(
    writer: Any,
    ledger: Path,
    fits: list[tuple[list[str], NDArray[np.float32], NDArray[np.float32]]],
    texts: Any,
    after: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Swap each fit (ids, base rows, nudged rows) in turn, then revert; the time of each
    and what ``after`` says about it (request counts, time per writer method)."""
    out: dict[str, Any] = {}
    after()
    for n, (ids, base, nudged) in enumerate(fits, start=1):
        start = time.perf_counter()
        report = lifecycle.swap(
            writer,
            NudgeLedger(ledger),
            dict(zip(ids, nudged, strict=True)),
            dict(zip(ids, base, strict=True)),
            {i: text_hash(f"text {i}") for i in ids},
            variant="N",
            gamma=0.1,
            model="bench",
            dim=base.shape[1],
            texts=texts,
        )
        seconds = time.perf_counter() - start
        assert len(report.written) == len(ids), report
        out[f"swap{n}"] = {"seconds": round(seconds, 3), **after()}
    seconds, back = timed(lambda: lifecycle.revert(writer, NudgeLedger(ledger), texts=texts))
    assert len(back.restored) == len(fits[-1][0]), back
    out["revert"] = {"seconds": round(seconds, 3), **after()}
    return out


def bench_counting(n: int, moved: int, dim: int, folder: Path) -> dict[str, Any]:
    """swap1 moves records 0..moved, swap2 the next ``moved`` (giving the first their base
    back), then revert: requests and records per kind show what each step reads."""
    ids, base, nudged = problem(n, 2 * moved, dim)
    store = CountingStore(dict(zip(ids, base, strict=True)), Limits(read=1000, write=500))

    def counts() -> dict[str, Any]:
        got = {"requests": dict(store.requests), "records": dict(store.records)}
        store.requests.clear()
        store.records.clear()
        return got

    halves = [slice(0, moved), slice(moved, 2 * moved)]
    fits = [(ids[h], base[h], nudged[h]) for h in halves]
    return swaps(store, folder / "counting-ledger", fits, store.texts, counts)


def bench_chroma(n: int, moved: int, dim: int, folder: Path) -> dict[str, Any]:
    """Chroma's own update of the moved vectors (forward and back), then the lifecycle's
    swap and revert of the same vectors, with the time in each writer method."""
    import chromadb

    from nudge_integrations.stores.chroma import ChromaWriter

    ids, base, nudged = problem(n, moved, dim)
    client = chromadb.PersistentClient(path=str(folder / "chroma"))
    col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    step = int(client.get_max_batch_size())

    def load() -> None:
        for s in range(0, n, step):
            col.add(
                ids=ids[s : s + step],
                embeddings=base[s : s + step],
                documents=[f"text {i}" for i in ids[s : s + step]],
                metadatas=[{"k": i} for i in ids[s : s + step]],
            )

    load_s, _ = timed(load)
    moved_ids = ids[:moved]

    def own_update(vectors: NDArray[np.float32]) -> None:
        for s in range(0, moved, step):
            col.update(ids=moved_ids[s : s + step], embeddings=vectors[s : s + step])

    own_fwd, _ = timed(lambda: own_update(nudged))
    own_back, _ = timed(lambda: own_update(base[:moved]))

    def texts(chunk: Any) -> dict[str, str]:
        got = col.get(ids=list(chunk), include=["documents"])
        return dict(zip(got["ids"], got["documents"] or [], strict=True))

    writer = ChromaWriter(col)
    timers = Timers(writer)
    fit = (moved_ids, base[:moved], nudged)
    ours = swaps(writer, folder / "chroma-ledger", [fit], texts, timers.take)
    return {
        "max_batch_size": step,
        "load_s": round(load_s, 2),
        "own_update_s": round(own_fwd, 3),
        "own_update_back_s": round(own_back, 3),
        **ours,
        "swap_over_own": round(ours["swap1"]["seconds"] / own_fwd, 2),
        "revert_over_own": round(ours["revert"]["seconds"] / own_back, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--moved", type=int, default=5_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    pin_threads()
    start = time.perf_counter()
    run = record(packages=("chromadb",))
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "n": args.n,
            "moved": args.moved,
            "dim": args.dim,
            "counting": bench_counting(args.n, args.moved, args.dim, Path(tmp)),
            "chroma": bench_chroma(args.n, args.moved, args.dim, Path(tmp)),
            "machine": machine(),
            "run": run,
        }
    result["elapsed_s"] = time.perf_counter() - start
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
