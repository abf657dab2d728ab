"""Swap and revert speed through the nudge ledger, next to the store's own bulk update.

Two stores, each with ``--n`` random unit vectors of ``--dim`` and ``--moved`` of them
nudged:

* a dict-backed ``MarkedWriter`` that counts its requests (vector reads and writes,
  marker reads and writes): how many requests and how many records a swap and a revert
  cost, which shows any work that grows with the store or the ledger rather than with
  the records moved;
* a real Chroma collection (embedded ``PersistentClient`` in a temporary folder, cosine
  HNSW): the lifecycle's swap and revert, and Chroma's own ``collection.update`` of the
  same vectors in batches of its ``get_max_batch_size()`` (forward and back), timed in
  the same run.

Run from the project root (about a minute on 2 cores)::

    python benchmarks/bench_swap_speed.py --json benchmarks/results/swap-speed.json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine

from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.base import Limits, MarkedWriter
from nudge_integrations.stores.ledger import NudgeLedger, text_hash


class CountingStore(MarkedWriter):
    """Vectors and markers in dicts; counts every request and the records it carries."""

    similarity = "cosine"

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


def problem(n: int, moved: int, dim: int) -> tuple[list[str], NDArray[np.float32], NDArray]:
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


def lifecycle_pair(
    writer: Any, ledger: Path, ids: list[str], base: NDArray, nudged: NDArray, texts: Any
) -> dict[str, float]:
    """Time a swap of the moved records, then a revert, through the ledger."""
    moved = ids[: len(nudged)]
    hashes = {i: text_hash(f"text {i}") for i in moved}
    nudged_d = dict(zip(moved, nudged, strict=True))
    base_d = dict(zip(moved, base[: len(moved)], strict=True))
    swap_s, report = timed(
        lambda: lifecycle.swap(
            writer,
            NudgeLedger(ledger),
            nudged_d,
            base_d,
            hashes,
            variant="N",
            gamma=0.1,
            model="bench",
            dim=base.shape[1],
            texts=texts,
        )
    )
    assert len(report.written) == len(moved), report
    revert_s, back = timed(lambda: lifecycle.revert(writer, NudgeLedger(ledger), texts=texts))
    assert len(back.restored) == len(moved), back
    return {"swap_s": round(swap_s, 3), "revert_s": round(revert_s, 3)}


def bench_counting(n: int, moved: int, dim: int, folder: Path) -> dict[str, Any]:
    ids, base, nudged = problem(n, moved, dim)
    store = CountingStore(dict(zip(ids, base, strict=True)), Limits(read=1000, write=500))
    out: dict[str, Any] = {}
    moved_ids = ids[:moved]
    hashes = {i: text_hash(f"text {i}") for i in moved_ids}
    for step in ("swap", "revert"):
        store.requests.clear()
        store.records.clear()
        ledger = NudgeLedger(folder / "counting-ledger")
        if step == "swap":
            seconds, _ = timed(
                lambda ledger=ledger: lifecycle.swap(
                    store,
                    ledger,
                    dict(zip(moved_ids, nudged, strict=True)),
                    dict(zip(moved_ids, base[:moved], strict=True)),
                    hashes,
                    variant="N",
                    gamma=0.1,
                    model="bench",
                    dim=dim,
                    texts=store.texts,
                )
            )
        else:
            seconds, _ = timed(
                lambda ledger=ledger: lifecycle.revert(store, ledger, texts=store.texts)
            )
        out[step] = {
            "seconds": round(seconds, 3),
            "requests": dict(store.requests),
            "records": dict(store.records),
        }
    return out


def bench_chroma(n: int, moved: int, dim: int, folder: Path) -> dict[str, Any]:
    import chromadb

    from nudge_integrations.stores import ChromaWriter

    ids, base, nudged = problem(n, moved, dim)
    client = chromadb.PersistentClient(path=str(folder / "chroma"))
    col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
    step = int(client.get_max_batch_size())
    load_s, _ = timed(
        lambda: [
            col.add(
                ids=ids[s : s + step],
                embeddings=base[s : s + step],
                documents=[f"text {i}" for i in ids[s : s + step]],
                metadatas=[{"k": i} for i in ids[s : s + step]],
            )
            for s in range(0, n, step)
        ]
    )
    moved_ids = ids[:moved]

    def own_update(vectors: NDArray) -> None:
        for s in range(0, moved, step):
            col.update(ids=moved_ids[s : s + step], embeddings=vectors[s : s + step])

    own_fwd, _ = timed(lambda: own_update(nudged))
    own_back, _ = timed(lambda: own_update(base[:moved]))

    def texts(chunk: Any) -> dict[str, str]:
        got = col.get(ids=list(chunk), include=["documents"])
        return dict(zip(got["ids"], got["documents"] or [], strict=True))

    writer = ChromaWriter(col)
    ours = lifecycle_pair(writer, folder / "chroma-ledger", ids, base, nudged, texts)
    return {
        "max_batch_size": step,
        "load_s": round(load_s, 2),
        "own_update_s": round(own_fwd, 3),
        "own_update_back_s": round(own_back, 3),
        **ours,
        "swap_over_own": round(ours["swap_s"] / own_fwd, 2),
        "revert_over_own": round(ours["revert_s"] / own_back, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--moved", type=int, default=5_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "n": args.n,
            "moved": args.moved,
            "dim": args.dim,
            "counting": bench_counting(args.n, args.moved, args.dim, Path(tmp)),
            "chroma": bench_chroma(args.n, args.moved, args.dim, Path(tmp)),
            "machine": machine(),
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
