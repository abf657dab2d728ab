"""Exact top-k search by inner product or cosine, chunked over the corpus.

Memory is bounded by one chunk of scores (queries x chunk rows), never a dense
queries x corpus matrix, so the corpus may be a million-row array or an ``np.memmap``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from nudge_integrations.core.device import DeviceLike, resolve_device
from nudge_integrations.core.validation import as_matrix, check_finite_nonzero
from nudge_integrations.errors import MetricMismatchError, NudgeError, ShapeError

Similarity = Literal["dot", "cosine"]
SIMILARITIES: tuple[str, ...] = ("dot", "cosine")

#: Scores held at once while scanning: queries x chunk float32 values.
DEFAULT_SCORE_BUDGET = 64 * 1024 * 1024


def check_similarity(similarity: str) -> Similarity:
    """Validate a similarity name."""
    if similarity not in SIMILARITIES:
        raise MetricMismatchError(
            f"unknown similarity {similarity!r}: use 'dot' (inner product) or 'cosine'"
        )
    return similarity  # type: ignore[return-value]


def chunk_rows(n_queries: int, budget: int = DEFAULT_SCORE_BUDGET) -> int:
    """Corpus rows per chunk so that a queries x chunk float32 block fits ``budget`` bytes."""
    return max(1024, budget // (4 * max(1, n_queries)))


def corpus_block(
    corpus: NDArray[Any], start: int, stop: int, device: torch.device, normalize: bool
) -> torch.Tensor:
    """Rows ``start:stop`` of ``corpus`` as a float32 tensor on ``device``."""
    rows = np.ascontiguousarray(corpus[start:stop], dtype=np.float32)
    if not rows.flags.writeable:  # a read-only memmap: torch wants writable memory
        rows = rows.copy()
    block = torch.from_numpy(rows).to(device)
    if normalize:
        block = torch.nn.functional.normalize(block, dim=1)
    return block


def topk_scan(
    queries: torch.Tensor,
    corpus: NDArray[Any],
    k: int,
    *,
    normalize_corpus: bool,
    exclude: NDArray[np.bool_] | None = None,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best ``k`` corpus rows per query (scores, int64 rows), skipping rows where ``exclude``.

    Missing entries (fewer than ``k`` eligible rows) have score ``-inf`` and row ``-1``.
    """
    device = queries.device
    m, n = queries.shape[0], corpus.shape[0]
    step = chunk_size or chunk_rows(m)
    best_s = torch.full((m, k), float("-inf"), device=device)
    best_i = torch.full((m, k), -1, dtype=torch.int64, device=device)
    for start in range(0, n, step):
        stop = min(n, start + step)
        scores = queries @ corpus_block(corpus, start, stop, device, normalize_corpus).T
        if exclude is not None:
            # fill only the excluded columns: far cheaper than a full-width mask
            cols = np.flatnonzero(exclude[start:stop])
            if len(cols):
                scores.index_fill_(1, torch.from_numpy(cols).to(device), float("-inf"))
        kk = min(k, stop - start)
        s, i = torch.topk(scores, kk, dim=1)
        cat_s = torch.cat([best_s, s], dim=1)
        cat_i = torch.cat([best_i, i + start], dim=1)
        best_s, pos = torch.topk(cat_s, k, dim=1)
        best_i = torch.gather(cat_i, 1, pos)
    best_i = best_i.masked_fill(torch.isinf(best_s) & (best_s < 0), -1)
    return best_s, best_i


def exact_search(
    queries: Any,
    corpus: Any,
    k: int = 10,
    *,
    similarity: str = "cosine",
    device: DeviceLike = "auto",
    chunk_size: int | None = None,
    exclude: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact top-``k`` search: ``(scores, rows)``, each ``(n_queries, k)``, best first.

    ``similarity="dot"`` ranks by inner product (needed for NUDGE-M vectors);
    ``"cosine"`` normalises both sides. ``exclude`` (a boolean mask over corpus rows)
    removes rows from the candidates. Where fewer than ``k`` rows are eligible the tail
    holds row ``-1`` with score ``-inf``.
    """
    sim = check_similarity(similarity)
    corpus_arr = as_matrix(corpus, "corpus embeddings", min_rows=1)
    q = as_matrix(queries, "query embeddings", dim=corpus_arr.shape[1], min_rows=1)
    check_finite_nonzero(q, "query embeddings", allow_zero=sim == "dot")
    if not isinstance(k, int | np.integer) or k < 1:
        raise NudgeError(f"k must be a positive integer, got {k!r}")
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=bool)
        if exclude.shape != (corpus_arr.shape[0],):
            raise ShapeError(
                f"exclude must be a boolean mask of length {corpus_arr.shape[0]} "
                f"(one per corpus row), got shape {exclude.shape}"
            )
    dev = resolve_device(device)
    qt = torch.from_numpy(np.ascontiguousarray(q)).to(dev)
    if sim == "cosine":
        qt = torch.nn.functional.normalize(qt, dim=1)
    with torch.inference_mode():
        s, i = topk_scan(
            qt,
            corpus_arr,
            int(k),
            normalize_corpus=sim == "cosine",
            exclude=exclude,
            chunk_size=chunk_size,
        )
    return s.cpu().numpy(), i.cpu().numpy()
