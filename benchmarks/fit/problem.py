"""The seeded synthetic retrieval problem every fit benchmark measures, and the fits on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nudge_integrations import NudgeM, NudgeN

DIM = 384
N_TRAIN = 5_000
N_VAL = 1_000
POOL = 5_000
DOCS_PER_CENTRE = 200
SPREAD = 0.8  # per-dimension noise around a cluster centre (centres are N(0, 1))
SHIFT = 1.0  # norm of each relevant record's hidden offset (what NUDGE learns)
QUERY_NOISE = 2.0  # norm of the per-query noise
GEN_CHUNK = 16_384  # corpus rows generated at once (25 MB of float32 at d=384)
FLOOR_K = 10


@dataclass
class Problem:
    corpus: NDArray[np.float32]
    train_q: NDArray[np.float32]
    train_rel: list[list[int]]
    val_q: NDArray[np.float32]
    val_rel: list[list[int]]


def make_problem(n: int, seed: int, d: int = DIM) -> Problem:
    """A clustered unit-norm corpus and queries around a pool of relevant records.

    The corpus is written chunk by chunk into one preallocated float32 array, so the
    only corpus-sized allocation is the result itself. Each query is the normalised mean
    of its 1-2 relevant records plus their hidden offsets, plus noise.
    """
    rng = np.random.default_rng(seed)
    n_centres = max(8, n // DOCS_PER_CENTRE)
    centres = rng.standard_normal((n_centres, d), dtype=np.float32)
    corpus = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, GEN_CHUNK):
        stop = min(n, start + GEN_CHUNK)
        block = corpus[start:stop]
        np.take(centres, rng.integers(0, n_centres, stop - start), axis=0, out=block)
        block += np.float32(SPREAD) * rng.standard_normal((stop - start, d), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    del centres
    return Problem(corpus, *pool_queries(rng, corpus, d))


def pool_queries(
    rng: np.random.Generator, corpus: NDArray[np.float32], d: int = DIM
) -> tuple[NDArray[np.float32], list[list[int]], NDArray[np.float32], list[list[int]]]:
    """Training and validation queries around a pool of records with hidden offsets."""
    n = corpus.shape[0]
    pool = rng.choice(n, size=min(POOL, n // 2), replace=False)
    offsets = np.float32(SHIFT / np.sqrt(d)) * rng.standard_normal((len(pool), d), dtype=np.float32)

    def queries(m: int) -> tuple[NDArray[np.float32], list[list[int]]]:
        two = rng.integers(1, 3, m) == 2
        a = rng.integers(0, len(pool), m)
        b = (a + rng.integers(1, len(pool), m)) % len(pool)  # a second, different record
        q = corpus[pool[a]] + offsets[a]
        q[two] = 0.5 * (q[two] + corpus[pool[b[two]]] + offsets[b[two]])
        q += np.float32(QUERY_NOISE / np.sqrt(d)) * rng.standard_normal((m, d), dtype=np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        rel = [
            [int(pool[a[i]]), int(pool[b[i]])] if two[i] else [int(pool[a[i]])] for i in range(m)
        ]
        return np.ascontiguousarray(q, dtype=np.float32), rel

    train_q, train_rel = queries(N_TRAIN)
    val_q, val_rel = queries(N_VAL)
    return train_q, train_rel, val_q, val_rel


def fit_ours(variant: str, p: Problem) -> NudgeN | NudgeM:
    """A default ``NudgeN`` / ``NudgeM`` fit on ``p``, on the CPU."""
    est = NudgeN(device="cpu") if variant == "N" else NudgeM(device="cpu")
    est.fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
    return est


def fit_k(variant: str) -> int:
    """How deep a default fit's competitor scan searches: the floor at the fit's own k.

    NUDGE-N scans the validation metric's depth (``k``, 1 for the default hit@1); NUDGE-M
    at least 2 (``nudge_integrations.core.fit``: ``depth = max(2, self.k)``).
    """
    k = int((NudgeN() if variant == "N" else NudgeM()).k)
    return k if variant == "N" else max(2, k)


def touched_rows(p: Problem) -> NDArray[np.int64]:
    """Rows with at least one training query: the records a fit moves."""
    return np.unique(np.fromiter((r for rel in p.train_rel for r in rel), dtype=np.int64))
