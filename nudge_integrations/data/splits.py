"""Deterministic query splits, including the NUDGE paper's protocol."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data.dataset import QADataset

#: The paper's protocol: pooled queries, seed 0, 70/10/20, val and test capped at 10,000.
PAPER_FRACTIONS = (0.7, 0.1, 0.2)
PAPER_CAP = 10_000


def split_dataset(
    dataset: QADataset,
    fractions: Sequence[float] = PAPER_FRACTIONS,
    *,
    seed: int = 0,
    cap: int | None = PAPER_CAP,
    names: Sequence[str] = ("train", "val", "test"),
) -> dict[str, QADataset]:
    """Shuffle the queries with ``numpy.random.RandomState(seed)`` and cut them in order.

    Every part after the first gets ``floor(fraction * n)`` queries (at most ``cap``);
    the first takes the rest. The defaults are the NUDGE paper's protocol.
    """
    if len(fractions) != len(names) or len(fractions) < 2:
        raise NudgeError("give one fraction per split name, at least two splits")
    if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise NudgeError(f"split fractions must be >= 0 and sum to 1, got {list(fractions)}")
    qids = dataset.query_ids
    n = len(qids)
    perm = np.random.RandomState(seed).permutation(n)
    sizes = [math.floor(f * n) for f in fractions[1:]]
    if cap is not None:
        sizes = [min(s, cap) for s in sizes]
    first = n - sum(sizes)
    bounds = np.cumsum([0, first, *sizes])
    parts = {}
    for i, name in enumerate(names):
        chosen = [qids[j] for j in perm[bounds[i] : bounds[i + 1]]]
        if not chosen:
            raise NudgeError(f"split {name!r} would be empty with {n} queries: use more queries")
        parts[name] = dataset.subset(chosen)
    return parts


def paper_split(dataset: QADataset, *, seed: int = 0, cap: int = PAPER_CAP) -> dict[str, QADataset]:
    """The NUDGE paper's split of pooled queries into train/val/test (70/10/20).

    Query ids are sorted as strings and shuffled with ``numpy.random.RandomState(seed)``;
    the first ``floor(0.1 n)`` (at most ``cap``) become validation, the next
    ``floor(0.2 n)`` (at most ``cap``) test, the rest training. On SciFact with MiniLM this
    layout reproduces the published reference numbers (778/110/221 queries; NDCG@10 0.626
    without fine-tuning, 0.840 NUDGE-N, 0.784 NUDGE-M).
    """
    qids = sorted(dataset.query_ids)
    n = len(qids)
    n_val = min(math.floor(0.1 * n), cap)
    n_test = min(math.floor(0.2 * n), cap)
    if n_val == 0 or n_test == 0 or n - n_val - n_test == 0:
        raise NudgeError(f"the paper split needs at least 10 queries, got {n}")
    shuffled = [qids[i] for i in np.random.RandomState(seed).permutation(n)]
    return {
        "train": dataset.subset(shuffled[n_val + n_test :]),
        "val": dataset.subset(shuffled[:n_val]),
        "test": dataset.subset(shuffled[n_val : n_val + n_test]),
    }
