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
from nudge_integrations.core.errors import (
    MetricMismatchError,
    NudgeError,
    ShapeError,
)
from nudge_integrations.core.validation import (
    as_matrix,
    check_finite_nonzero,
    non_finite_row,
    zero_row,
)

Similarity = Literal["dot", "cosine"]
SIMILARITIES: tuple[str, ...] = ("dot", "cosine")

#: Scores held at once while scanning: queries x chunk float32 values.
DEFAULT_SCORE_BUDGET = 64 * 1024 * 1024

#: Up to this k a chunk's top k is taken by k argmax passes, beyond it by a threshold.
_ARGMAX_K = 4

#: A row whose scale to unit length is within this of 1 (4 float32 ulps) counts as unit:
#: a typical product of 384 float32 terms is rounded by more (about 1e-6 relative).
UNIT_TOLERANCE = 4.8e-7

#: Argmax passes over the queries whose best entry was an excluded row, before the rest
#: of a chunk's excluded columns are filled for those queries at once.
_LAZY_PASSES = 2


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
    allow_zero: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best ``k`` corpus rows per query (scores, int64 rows), skipping rows where ``exclude``.

    Missing entries (fewer than ``k`` eligible rows) have score ``-inf`` and row ``-1``.
    On the CPU the scan runs through numpy's BLAS with a threshold merge
    (:func:`scan_chunks`), which also refuses NaN/inf rows (and all-zero rows unless
    ``allow_zero``) when it normalises; on an accelerator it stays in torch, unchecked.
    """
    if queries.device.type == "cpu":
        s, i = scan_chunks(
            queries.detach().numpy(),
            corpus,
            k,
            normalize=normalize_corpus,
            exclude=exclude,
            chunk_size=chunk_size,
            allow_zero=allow_zero,
        )
        return torch.from_numpy(s), torch.from_numpy(i)
    return _topk_scan_torch(
        queries,
        corpus,
        k,
        normalize_corpus=normalize_corpus,
        exclude=exclude,
        chunk_size=chunk_size,
    )


def _topk_scan_torch(
    queries: torch.Tensor,
    corpus: NDArray[Any],
    k: int,
    *,
    normalize_corpus: bool,
    exclude: NDArray[np.bool_] | None = None,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The accelerator scan: one matrix product and one top-k merge per chunk, in torch."""
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


def unit_rows(
    rows: NDArray[Any],
    out: NDArray[np.float32],
    *,
    name: str = "corpus embeddings",
    first: int = 0,
    allow_zero: bool = True,
    keep_unit: bool = False,
) -> NDArray[np.float32]:
    """``rows`` scaled to unit length into ``out`` (zero rows stay zero, as torch's
    ``normalize``, unless ``allow_zero=False``, which raises :class:`ZeroVectorError`),
    raising :class:`NonFiniteError` naming the row if one holds NaN/inf.

    The finiteness check is fused into the norm: a row's squared norm is finite unless
    the row holds NaN/inf (or overflows, which is then checked exactly). With
    ``keep_unit``, rows that are all unit length already (every scale within
    :data:`UNIT_TOLERANCE` of 1) are returned as they are, uncopied: rescaling them would
    move their scores by less than a matrix product's own float32 rounding.
    """
    sq = np.einsum("ij,ij->i", rows, rows)
    if not np.isfinite(sq).all():
        bad = ~np.isfinite(rows).all(axis=1)
        if bad.any():
            raise non_finite_row(name, first + int(np.flatnonzero(bad)[0]))
        sq = np.einsum("ij,ij->i", rows.astype(np.float64), rows.astype(np.float64))
    if not allow_zero:
        zero = sq == 0
        if zero.any():
            raise zero_row(name, first + int(np.flatnonzero(zero)[0]))
    inv = (1.0 / np.maximum(np.sqrt(sq), 1e-12)).astype(np.float32)
    if (
        keep_unit
        and rows.flags.c_contiguous
        and float(np.abs(inv - 1).max(initial=0)) <= UNIT_TOLERANCE
    ):
        return rows
    np.multiply(rows, inv[:, None], out=out)
    return out


def scan_chunks(
    queries: NDArray[np.float32],
    corpus: NDArray[Any],
    k: int,
    *,
    normalize: bool,
    exclude: NDArray[np.bool_] | None = None,
    chunk_size: int | None = None,
    row_offset: int = 0,
    name: str = "corpus embeddings",
    allow_zero: bool = True,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """CPU top-``k`` scan: ``(scores, rows + row_offset)``, best first (ties: lower row).

    Each chunk is one BLAS product into a reused buffer. After the first ``k`` rows are
    seen, only scores above a query's current ``k``-th best can enter its list, so a
    chunk costs one comparison pass plus a merge of the few survivors instead of a full
    top-k sort. ``exclude`` is a mask over ``corpus`` rows; NaN/inf rows raise.
    """
    q = np.ascontiguousarray(queries, dtype=np.float32)
    m, n = q.shape[0], corpus.shape[0]
    step = max(1, min(n, chunk_size or chunk_rows(m)))
    best_s = np.full((m, k), -np.inf, dtype=np.float32)
    best_i = np.full((m, k), -1, dtype=np.int64)
    unit = np.empty((step, corpus.shape[1]), dtype=np.float32) if normalize else None
    score_buf = np.empty(m * step, dtype=np.float32)
    for start in range(0, n, step):
        stop = min(n, start + step)
        c = stop - start
        rows = np.asarray(corpus[start:stop])
        if rows.dtype != np.float32:
            rows = rows.astype(np.float32)
        if unit is not None:
            block = unit_rows(
                rows,
                unit[:c],
                name=name,
                first=row_offset + start,
                allow_zero=allow_zero,
                keep_unit=True,
            )
        else:
            block = rows
        scores = score_buf[: m * c].reshape(m, c)
        np.matmul(q, block.T, out=scores)
        excluded = None if exclude is None else exclude[start:stop]
        if excluded is not None and not excluded.any():
            excluded = None
        _merge(scores, start + row_offset, best_s, best_i, excluded)
    best_i[np.isneginf(best_s)] = -1
    return best_s, best_i


def _argmax_kept(
    scores: NDArray[np.float32], excluded: NDArray[np.bool_] | None
) -> NDArray[np.int64]:
    """Each query's best column outside ``excluded`` (``-inf`` entries where none is left).

    Excluded columns are skipped lazily: only the queries whose best is excluded have that
    entry set to ``-inf`` and are searched again; after :data:`_LAZY_PASSES` such passes
    the rest of their excluded columns are filled at once. Filling every excluded column
    of every query first (a strided write per column) cost about a tenth of the product.
    """
    col: NDArray[np.int64] = scores.argmax(axis=1)
    if excluded is None:
        return col
    bad = np.flatnonzero(excluded[col])
    for _ in range(_LAZY_PASSES):
        if len(bad) == 0:
            return col
        scores[bad, col[bad]] = -np.inf
        col[bad] = scores[bad].argmax(axis=1)
        bad = bad[excluded[col[bad]]]
    if len(bad):
        scores[np.ix_(bad, np.flatnonzero(excluded))] = -np.inf
        col[bad] = scores[bad].argmax(axis=1)
    return col


def _merge_small(
    scores: NDArray[np.float32],
    first: int,
    best_s: NDArray[np.float32],
    best_i: NDArray[np.int64],
    excluded: NDArray[np.bool_] | None = None,
) -> None:
    """:func:`_merge` for small ``k``: the chunk's top ``k`` by ``k`` argmax passes (each
    taken entry is set to ``-inf``; ``scores`` is scratch), then a merge of two sorted
    ``k``-lists per query. Ties go to the lower row: argmax takes the first maximum, and
    the running lists hold only rows before this chunk."""
    m, k = best_s.shape
    kk = min(k, scores.shape[1])
    every = np.arange(m)
    vals = np.empty((m, kk), dtype=np.float32)
    cols = np.empty((m, kk), dtype=np.int64)
    for j in range(kk):
        col = _argmax_kept(scores, excluded)
        cols[:, j] = col
        vals[:, j] = scores[every, col]
        scores[every, col] = -np.inf
    if k == 1:
        better = vals[:, 0] > best_s[:, 0]
        best_s[better, 0] = vals[better, 0]
        best_i[better, 0] = cols[better, 0] + first
        return
    both_s = np.concatenate([best_s, vals], axis=1)
    both_i = np.concatenate([best_i, cols + first], axis=1)
    order = np.argsort(-both_s, axis=1, kind="stable")[:, :k]
    best_s[:] = np.take_along_axis(both_s, order, axis=1)
    best_i[:] = np.take_along_axis(both_i, order, axis=1)


def _chunk_top(
    scores: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Every entry of each row at or above the row's ``k``-th best: ``(row, column, value)``.
    Entries tied with the ``k``-th are all kept, so the merge's sort by row decides
    among them (a plain top-k may keep any of them)."""
    kk = min(k, scores.shape[1])
    kth = torch.topk(torch.from_numpy(scores), kk, dim=1).values[:, -1].numpy()
    qi, cols = np.nonzero(scores >= kth[:, None])
    return qi, cols, scores[qi, cols]


def _merge(
    scores: NDArray[np.float32],
    first: int,
    best_s: NDArray[np.float32],
    best_i: NDArray[np.int64],
    excluded: NDArray[np.bool_] | None = None,
) -> None:
    """Merge one chunk of scores (rows ``first...``) into the running best lists, in place,
    skipping the chunk's ``excluded`` columns.

    Row reductions run in numpy (its contiguous ``max``/``argmax`` along a row cost about
    a thirtieth of the chunk's matrix product; torch's were three to six times slower).
    """
    m, k = best_s.shape
    if k <= _ARGMAX_K:
        _merge_small(scores, first, best_s, best_i, excluded)
        return
    if excluded is not None:
        scores[:, np.flatnonzero(excluded)] = -np.inf
    thr = best_s[:, -1]
    if np.isneginf(thr).any():  # lists not full yet: this chunk's top k, ties included
        qi, cols, vals = _chunk_top(scores, k)
    else:
        # one max pass finds the few queries this chunk can improve; only their rows are
        # compared and searched for survivors (a full-width nonzero cost more than the rest)
        live = np.flatnonzero(scores.max(axis=1) > thr)
        if len(live) == 0:
            return
        sub_q, cols = np.nonzero(scores[live] > thr[live, None])
        if len(cols) > 4 * m * k:  # a chunk far better than the lists: its top k instead
            qi, cols, vals = _chunk_top(scores, k)
        else:
            qi = live[sub_q]
            vals = scores[qi, cols]
    all_q = np.concatenate([np.repeat(np.arange(m), k), qi])
    all_s = np.concatenate([best_s.ravel(), vals])
    all_r = np.concatenate([best_i.ravel(), cols.astype(np.int64) + first])
    order = np.lexsort((all_r, -all_s, all_q))
    sorted_q = all_q[order]
    starts = np.searchsorted(sorted_q, np.arange(m))
    rank = np.arange(len(order)) - starts[sorted_q]
    keep = order[rank < k]
    best_s[:] = all_s[keep].reshape(m, k)
    best_i[:] = all_r[keep].reshape(m, k)


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
