"""Choosing gamma on validation queries, evaluated on the touched records only.

For a validation query, every untouched record's score is fixed, so a gamma candidate
needs only the touched block ``|val| x |T|`` plus the untouched top-k found once.
NUDGE-M's hit@1 optimum is found exactly by an interval sweep; any variant and metric
can also be scored on a grid of candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from nudge_integrations.core.ids import Pairs
from nudge_integrations.core.metrics import RelevanceTable

#: The reference implementation's NUDGE-N candidates: 0, 0.02, ..., 0.48.
REFERENCE_N_GRID: tuple[float, ...] = tuple(round(0.02 * i, 2) for i in range(25))

#: Added to the score-slope difference before dividing, as in nudge-ft 0.1.2.
_RATIO_EPS = 1e-8

#: Validation queries scored per block at least; bounds the |block| x |T| matrices.
VAL_BLOCK = 256

#: Bytes of query-side products per block: larger blocks when few records are touched.
_BLOCK_BUDGET = 64 * 1024 * 1024


def _block_rows(n_touched: int, n_parts: int) -> int:
    """Validation queries per block: ``VAL_BLOCK``, or more while the block's
    ``rows x n_touched x n_parts`` float32 products stay within ``_BLOCK_BUDGET``."""
    return max(VAL_BLOCK, _BLOCK_BUDGET // (4 * max(1, n_touched) * n_parts))


#: Relative slack on the score bound, far above float32 rounding of the scores.
_BOUND_SLACK = 1e-4

#: Up to this k the top k of each query's candidates is taken by k picks, not a sort.
_PICK_K = 4

#: Candidates per query above which a block is ranked densely instead.
_DENSE_WIDTH = 64

#: Entries (gammas x queries x candidates) scored together on the narrow path.
_MANY_BUDGET = 1 << 22

#: Entries per piece of a CPU pass over a whole block: its float32 scratch (1 MiB) stays in
#: cache between the pass's steps (measured 41 ms -> 27 ms for 1,100 pairs x 3,912 rows).
_CACHE_ENTRIES = 1 << 18

Blocks = tuple[torch.Tensor, ...]


@dataclass
class ValidationView:
    """Validation queries with their judgements and their best untouched competitors."""

    queries: torch.Tensor
    pairs: Pairs
    table: RelevanceTable
    untouched_scores: torch.Tensor
    untouched_rows: torch.Tensor


class _Stack:
    """Row blocks of the touched records stacked, so the query side is one matrix product.

    On the CPU the product runs through numpy's BLAS, measured here at 1.2-1.4x torch's
    for these shapes; elsewhere it stays in torch.
    """

    def __init__(self, *parts: torch.Tensor):
        self.sizes = [p.shape[0] for p in parts]
        self.rows = torch.cat(parts).contiguous()

    def products(self, q: torch.Tensor) -> Blocks:
        if q.device.type == "cpu":
            out = torch.from_numpy(np.matmul(q.numpy(), self.rows.numpy().T))
        else:
            out = q @ self.rows.T
        return tuple(torch.split(out, self.sizes, dim=1))


class _Geometry:
    """What both variants' geometries share: the query-side products, built on first use
    (a fit with a fixed gamma never asks for them).

    On the CPU the passes over whole ``queries x touched`` blocks (:meth:`reach`, the
    sweep's bounds) run in numpy: for about 0.1 s after a BLAS product (the scan's, the
    blocks') OpenBLAS's threads keep spinning, and torch's two-thread ops then ran 2-3x
    slower here, while numpy's single-threaded ones ran at full speed.
    """

    def parts(self) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def blocks(self, q: torch.Tensor) -> Blocks:
        """Query-side products needed to score any gamma: ``q`` times each of
        :meth:`parts`, in that order."""
        if not hasattr(self, "_stack"):
            self._stack = _Stack(*self.parts())
        return self._stack.products(q)


class NGeometry(_Geometry):
    """NUDGE-N's closed form on the touched records, with its per-row pieces precomputed.

    ``e' = g_hat`` where ``e . g_hat >= 1 - gamma/2``; else the cap's edge
    ``(1 - gamma/2) e + sqrt(gamma - gamma^2/4) z`` with ``z`` the unit part of ``g``
    orthogonal to ``e``. Rows with ``e . g < 0`` or ``g`` parallel to ``e`` keep ``e``
    (the reference's NaN for parallel rows is avoided by clamping).

    Every candidate lies in the plane of ``e`` and ``z`` (``g_hat = cos e + sin z``), so a
    query's score at any gamma is ``alpha (q . e) + beta (q . z)``: two products per query
    block, not three, and ``hypot(q . e, q . z)`` bounds it over all gammas.
    """

    def __init__(self, e: torch.Tensor, g: torch.Tensor):
        self.e = e
        v = (g * e).sum(dim=1)
        c = (g * g).sum(dim=1)
        w2 = torch.clamp(c - v * v, min=0.0)
        self.frozen = (v < 0) | (w2 <= 0) | (c <= 0)
        # z is the unit orthogonal part wherever there is one (frozen rows included: their
        # g_hat may still be taken at gamma > 2); the cap's edge gives frozen rows b = 0
        flat = w2 <= 0
        w = torch.sqrt(torch.where(flat, torch.ones_like(w2), w2))
        z = (g - v.unsqueeze(1) * e) / w.unsqueeze(1)
        if bool(flat.any()):
            z[flat] = 0.0
        self.z = z
        self.g_hat = torch.nn.functional.normalize(g, dim=1)
        self.cos_eg = (e * self.g_hat).sum(dim=1)
        norm = torch.sqrt(torch.where(c > 0, c, torch.ones_like(c)))
        self.sin_eg = torch.where(flat, torch.zeros_like(w), w / norm)
        self.has_pull = c > 0

    def coefficients(self, gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(use_g_hat, a, b)`` with ``e' = g_hat`` where ``use_g_hat`` else ``a e + b z``
        (kept per gamma: every query block of a grid search asks again)."""
        cache: dict[float, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
        cache = self.__dict__.setdefault("_coef_cache", {})
        if gamma not in cache:
            cache[gamma] = self._coefficients(gamma)
        return cache[gamma]

    def _coefficients(self, gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if gamma == 0:
            no = torch.zeros_like(self.frozen)
            return no, torch.ones_like(self.cos_eg), torch.zeros_like(self.cos_eg)
        use = self.has_pull & (self.cos_eg >= 1 - gamma / 2)
        a = torch.where(self.frozen, 1.0, 1 - gamma / 2).to(self.cos_eg.dtype)
        b = torch.where(self.frozen, 0.0, float(np.sqrt(gamma - gamma * gamma / 4)))
        return use, a, b.to(self.cos_eg.dtype)

    def plane(self, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha, beta)`` per row with ``e' = alpha e + beta z`` at ``gamma``
        (``g_hat``'s own ``cos, sin`` where it is taken)."""
        cache: dict[float, tuple[torch.Tensor, torch.Tensor]]
        cache = self.__dict__.setdefault("_plane_cache", {})
        if gamma not in cache:
            use, a, b = self.coefficients(gamma)
            cache[gamma] = torch.where(use, self.cos_eg, a), torch.where(use, self.sin_eg, b)
        return cache[gamma]

    def vectors(self, gamma: float) -> torch.Tensor:
        """The nudged vectors of all touched rows at ``gamma``."""
        use, a, b = self.coefficients(gamma)
        edge = a.unsqueeze(1) * self.e + b.unsqueeze(1) * self.z
        return torch.where(use.unsqueeze(1), self.g_hat, edge)

    def parts(self) -> tuple[torch.Tensor, ...]:
        """What :meth:`blocks` multiplies the queries by: ``(e, z)``."""
        return self.e, self.z

    def score(self, gamma: float, blocks: Blocks, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of all touched rows at ``gamma`` from :meth:`blocks` (into ``out``)."""
        qe, qz = blocks
        alpha, beta = self.plane(gamma)
        # separate, individually rounded products and sum (no fused multiply-add), so an
        # entry scores the same here and gathered (score_many): ties resolve alike
        buf = torch.mul(qe, alpha, out=out) if out is not None else qe * alpha
        return buf.add_(qz * beta)

    def score_many(
        self, gammas: Sequence[float], picked: Blocks, cols: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`score` of gathered entries at each of ``gammas`` at once, ``(G, q, w)``:
        the same products and sums, entry for entry, in a few tensor ops instead of a
        few per gamma (on the narrow path those per-call costs were most of the grid)."""
        qe, qz = picked
        coef = [self.plane(float(g)) for g in gammas]
        alpha = torch.stack([c[0] for c in coef])[:, cols]
        beta = torch.stack([c[1] for c in coef])[:, cols]
        return (qe * alpha).add_(qz * beta)

    def reach(self, blocks: Blocks, gammas: Sequence[float], floor: torch.Tensor) -> torch.Tensor:
        """Entries whose score can reach their query's ``floor`` at some gamma: the nudged
        vector is ``alpha e + beta z`` with ``alpha^2 + beta^2 = 1`` (``e``, ``z``
        orthonormal), so ``hypot(q . e, q . z)`` bounds it."""
        qe, qz = blocks
        if qe.device.type != "cpu":
            return torch.hypot(qe, qz) >= floor.unsqueeze(1)
        e, z, f = qe.numpy(), qz.numpy(), floor.numpy()
        f2 = np.where(f > 0, f * f, -1.0).astype(np.float32)[:, None]
        mask = np.empty(e.shape, dtype=bool)
        for rows in _pieces(e.shape):
            sq = np.multiply(e[rows], e[rows])
            sq += np.square(z[rows])
            np.greater_equal(sq, f2[rows], out=mask[rows])
        return torch.from_numpy(mask)


class MGeometry(_Geometry):
    """NUDGE-M's closed form on the touched records: ``e' = e + gamma * g_hat``."""

    def __init__(self, e: torch.Tensor, g: torch.Tensor):
        self.e = e
        self.g_hat = torch.nn.functional.normalize(g, dim=1)

    def vectors(self, gamma: float) -> torch.Tensor:
        return self.e + gamma * self.g_hat

    def parts(self) -> tuple[torch.Tensor, ...]:
        """What :meth:`blocks` multiplies the queries by: ``(e, g_hat)``."""
        return self.e, self.g_hat

    def score(self, gamma: float, blocks: Blocks, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores at ``gamma`` (M has no per-row terms, so gathered entries score alike)."""
        qe, qg = blocks
        step = qg * gamma  # rounded on its own (no fused multiply-add): see NGeometry.score
        return torch.add(qe, step, out=out) if out is not None else qe + step

    def score_many(
        self, gammas: Sequence[float], picked: Blocks, cols: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`score` at each of ``gammas``, stacked ``(G, q, w)`` (``cols`` unused)."""
        return torch.stack([self.score(float(g), picked) for g in gammas])

    def reach(self, blocks: Blocks, gammas: Sequence[float], floor: torch.Tensor) -> torch.Tensor:
        """Entries whose score can reach their query's ``floor`` at one of ``gammas``: the
        score is linear in gamma, so at one of the two ends."""
        qe, qg = blocks
        lo, hi = min(gammas), max(gammas)
        if qe.device.type != "cpu":
            out = qe + lo * qg
            return torch.maximum(out, qe + hi * qg, out=out) >= floor.unsqueeze(1)
        e, g, f = qe.numpy(), qg.numpy(), floor.numpy()[:, None]
        mask = np.empty(e.shape, dtype=bool)
        for rows in _pieces(e.shape):
            end = np.multiply(g[rows], np.float32(lo))
            end += e[rows]
            np.greater_equal(end, f[rows], out=mask[rows])
            np.multiply(g[rows], np.float32(hi), out=end)
            end += e[rows]
            mask[rows] |= end >= f[rows]
        return torch.from_numpy(mask)


def grid_search(
    gammas: Sequence[float],
    geometry: NGeometry | MGeometry,
    view: ValidationView,
    touched_rows: torch.Tensor,
    metric: str,
    k: int,
    *,
    max_width: int | None = None,
) -> NDArray[np.float64]:
    """Mean validation ``metric@k`` at each gamma, ranking all records exactly.

    A touched record can enter a query's top ``k`` only where its score can reach the
    query's ``k``-th best untouched score; the geometry's ``reach`` bounds its score over
    all candidates at once, so each gamma scores only those few (query, record) entries.
    A block where some query has more than ``max_width`` such entries (default: 64 or
    an eighth of the touched records, the larger) takes, per gamma, the entries at or
    above each query's ``k``-th best touched score instead. Either way the top ``k`` is
    ordered by score, then by row, so exact ties resolve the same on both paths.
    """
    limit = max(_DENSE_WIDTH, touched_rows.shape[0] // 8) if max_width is None else max_width
    n_val = view.queries.shape[0]
    ranked = np.empty((len(gammas), n_val, k), dtype=np.int64)
    scale = view.queries.norm(dim=1) * (1 + max(gammas)) * _BOUND_SLACK
    step = _block_rows(touched_rows.shape[0], len(geometry.parts()))
    for start in range(0, n_val, step):
        stop = min(n_val, start + step)
        blocks = geometry.blocks(view.queries[start:stop])
        u_s = view.untouched_scores[start:stop, :k]
        u_r = view.untouched_rows[start:stop, :k]
        floor = u_s[:, k - 1] - scale[start:stop]
        reach = geometry.reach(blocks, gammas, floor)
        counts = _counts(reach)
        if int(counts.max()) <= limit:
            pos, pad = _padded(reach, counts)
            picked = tuple(torch.gather(b, 1, pos) for b in blocks)
            rows = touched_rows[pos].masked_fill(pad, -1)
            m, width = pos.shape
            per = max(1, _MANY_BUDGET // max(1, m * width))  # gammas scored together
            for g0 in range(0, len(gammas), per):
                group = gammas[g0 : g0 + per]
                s = geometry.score_many(group, picked, pos).masked_fill_(pad, -np.inf)
                g = len(group)
                top = _top(
                    s.reshape(g * m, width),
                    rows.repeat(g, 1),
                    u_s.repeat(g, 1),
                    u_r.repeat(g, 1),
                    k,
                )
                ranked[g0 : g0 + g, start:stop] = top.reshape(g, m, k)
            continue
        _rank_wide(gammas, geometry, blocks, (u_s, u_r), touched_rows, k, ranked[:, start:stop])
    return np.asarray([view.table.mean(r, metric, k) for r in ranked])


def _rank_wide(
    gammas: Sequence[float],
    geometry: NGeometry | MGeometry,
    blocks: Blocks,
    untouched: tuple[torch.Tensor, torch.Tensor],
    touched_rows: torch.Tensor,
    k: int,
    out: NDArray[np.int64],
) -> None:
    """Top ``k`` of a query block at each gamma from all touched scores, into ``out``."""
    kt = min(k, touched_rows.shape[0])
    buf = torch.empty_like(blocks[0])
    for gi, gamma in enumerate(gammas):
        s = geometry.score(float(gamma), blocks, out=buf)
        kth = torch.topk(s, kt, dim=1).values[:, -1:]
        best = s >= kth  # the k best, and any rows tied with the k-th
        pos, pad = _padded(best, _counts(best))
        picked = torch.gather(s, 1, pos).masked_fill(pad, -np.inf)
        rows = touched_rows[pos].masked_fill(pad, -1)
        out[gi] = _top(picked, rows, *untouched, k)


def _pieces(shape: tuple[int, ...]) -> list[slice]:
    """Row slices of a ``shape`` block with about :data:`_CACHE_ENTRIES` entries each."""
    step = max(1, _CACHE_ENTRIES // max(1, shape[1]))
    return [slice(a, min(shape[0], a + step)) for a in range(0, shape[0], step)]


def _counts(mask: torch.Tensor) -> torch.Tensor:
    """Entries per row of a boolean ``mask`` (numpy's count on the CPU: torch's bool sum
    measured several times slower there, right after a BLAS product)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.count_nonzero(mask.numpy(), axis=1).astype(np.int64))
    return mask.sum(dim=1)


def _padded(mask: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column positions of each row's entries, left-aligned and padded: ``(pos, pad)``."""
    width = int(counts.max()) if mask.shape[0] else 0
    if mask.device.type == "cpu":  # numpy's nonzero: see _Geometry on threads after BLAS
        q_np, c_np = np.divmod(np.flatnonzero(mask.numpy()), mask.shape[1])
        q_i, cols = torch.from_numpy(q_np), torch.from_numpy(c_np)
    else:
        q_i, cols = mask.nonzero(as_tuple=True)
    slot = torch.arange(len(q_i), device=mask.device) - (torch.cumsum(counts, 0) - counts)[q_i]
    pos = torch.zeros((mask.shape[0], width), dtype=torch.int64, device=mask.device)
    pos[q_i, slot] = cols
    pad = torch.ones_like(pos, dtype=torch.bool)
    pad[q_i, slot] = False
    return pos, pad


def _top(
    t_s: torch.Tensor, t_r: torch.Tensor, u_s: torch.Tensor, u_r: torch.Tensor, k: int
) -> NDArray[np.int64]:
    """Rows of the best ``k`` of touched and untouched candidates: by score, then row."""
    cand_s = torch.cat([t_s, u_s], dim=1).cpu().numpy()
    cand_r = torch.cat([t_r, u_r], dim=1).cpu().numpy()
    if k > _PICK_K:
        order = np.lexsort((cand_r, -cand_s), axis=-1)[:, :k]
        return np.take_along_axis(cand_r, order, axis=1)
    # k picks of (best score, lowest row among it): a tenth of a row-wise lexsort's time
    out = np.empty((cand_s.shape[0], k), dtype=np.int64)
    for j in range(k):
        best = cand_s.max(axis=1, keepdims=True)
        pick = np.where(cand_s == best, cand_r, np.iinfo(np.int64).max).min(axis=1)
        pick[np.isneginf(best[:, 0])] = -1  # only empty slots (row -1) are left
        out[:, j] = pick
        cand_s[(cand_r == pick[:, None]) & (cand_s == best)] = -np.inf
    return out


def m_intervals(
    geometry: MGeometry,
    view: ValidationView,
    touched_pos: NDArray[np.int64],
    target_scores: torch.Tensor,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Per validation (query, relevant record) pair, the gamma interval where it ranks first.

    ``touched_pos[p]`` is the touched-row position of pair ``p``'s record (-1 if
    untouched); ``target_scores[p]`` is ``q . e_x`` for untouched targets. Ties count as
    first. Returns (lower ends, upper ends) of the non-empty intervals and the pair count.
    """
    pairs = view.pairs
    device = view.queries.device
    lows: list[NDArray[np.float64]] = []
    highs: list[NDArray[np.float64]] = []
    step = _block_rows(geometry.e.shape[0], 3)
    for start in range(0, pairs.n_queries, step):
        stop = min(pairs.n_queries, start + step)
        sel = np.flatnonzero((pairs.query >= start) & (pairs.query < stop))
        if len(sel) == 0:
            continue
        qe, qg = geometry.blocks(view.queries[start:stop])
        local_q = torch.from_numpy(pairs.query[sel] - start).to(device)
        tpos = torch.from_numpy(touched_pos[sel]).to(device)
        is_t = tpos >= 0
        safe = torch.clamp(tpos, min=0)
        s_x = torch.where(is_t, qe[local_q, safe], target_scores[sel])
        g_x = torch.where(is_t, qg[local_q, safe], 0.0)
        # best untouched competitor other than the target itself
        u_s = view.untouched_scores[local_q + start]
        u_r = view.untouched_rows[local_q + start]
        x_row = torch.from_numpy(pairs.row[sel]).to(device)
        first_is_x = u_r[:, 0] == x_row
        u_best = torch.where(first_is_x, u_s[:, 1], u_s[:, 0])
        # x stays first against competitor i iff s_i - s_x <= gamma * (g_x - g_i); the
        # touched competitors as a block, the best untouched one (g_i = 0) as a column
        lo, hi, blocked = _touched_bounds(qe, qg, local_q, s_x, g_x)
        lo_u, hi_u, blocked_u = _bounds((u_best - s_x).unsqueeze(1), g_x.unsqueeze(1))
        lo = torch.maximum(lo, lo_u.clamp(min=0.0))
        hi = torch.minimum(hi, hi_u)
        blocked |= blocked_u
        ok = ~blocked & (hi >= lo)
        lows.append(lo[ok].double().cpu().numpy())
        highs.append(hi[ok].double().cpu().numpy())
    lo_all = np.concatenate(lows) if lows else np.zeros(0)
    hi_all = np.concatenate(highs) if highs else np.zeros(0)
    return lo_all, hi_all, len(pairs.query)


def _touched_bounds(
    qe: torch.Tensor, qg: torch.Tensor, local_q: torch.Tensor, s_x: torch.Tensor, g_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_bounds` of each pair against every touched record, the pair's query's row of
    the ``queries x touched`` blocks, with ``lo`` clamped at 0 (gamma >= 0).

    On the CPU, in numpy (see :class:`_Geometry`): only competitors above ``x`` at gamma 0
    (few) can push ``lo`` above 0 or block ``x``, so those two come from a sparse pass and
    only ``hi`` takes whole-block passes."""
    if qe.device.type != "cpu":
        s_all, g_all = qe[local_q], qg[local_q]
        lo_t, hi_t, blocked_t = _bounds(
            s_all.sub_(s_x.unsqueeze(1)), g_all.neg_().add_(g_x.unsqueeze(1))
        )
        return lo_t.clamp(min=0.0), hi_t, blocked_t
    rows, e, g = local_q.numpy(), qe.numpy(), qg.numpy()
    sx, gx = s_x.numpy(), g_x.numpy()
    lo = np.zeros(len(rows), dtype=np.float32)
    hi = np.empty(len(rows), dtype=np.float32)
    blocked = np.zeros(len(rows), dtype=bool)
    for piece in _pieces((len(rows), e.shape[1])):  # pairs whose scratch stays cached
        a, b = piece.start, piece.stop
        s_dif = e[rows[a:b]]
        s_dif -= sx[a:b, None]
        g_dif = g[rows[a:b]]
        np.subtract(gx[a:b, None], g_dif, out=g_dif)
        pr, pc = np.nonzero(s_dif > 0)
        sd, gd = s_dif[pr, pc], g_dif[pr, pc]
        up = gd > 0
        np.maximum.at(lo[a:b], pr[up], sd[up] / (gd[up] + _RATIO_EPS))
        blocked[a:b][pr[gd == 0]] = True  # the inputs are finite: neither up nor down is 0
        ratio = g_dif + _RATIO_EPS
        down = g_dif < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(s_dif, ratio, out=ratio)
        hi[a:b] = np.where(down, ratio, np.inf).min(axis=1, initial=np.inf)
    return torch.from_numpy(lo), torch.from_numpy(hi), torch.from_numpy(blocked)


def _bounds(
    s_dif: torch.Tensor, g_dif: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row, the largest crossing among competitors ``x`` must outgrow (``g_dif > 0``),
    the smallest among those that outgrow ``x`` (``g_dif < 0``), and whether one ranks
    above ``x`` at every gamma (``g_dif == 0``, ``s_dif > 0``).

    The reference's float32 arithmetic, eps included, so near-ties resolve the same way.
    """
    ratio = s_dif / (g_dif + _RATIO_EPS)
    up = g_dif > 0
    lo = torch.where(up, ratio, -torch.inf).amax(dim=1)
    down = g_dif < 0
    hi = torch.where(down, ratio, torch.inf).amin(dim=1)
    blocked = (~(up | down) & (s_dif > 0)).any(dim=1)
    return lo, hi, blocked


def most_covered_point(
    lows: NDArray[np.float64], highs: NDArray[np.float64], total: int, max_points: int = 200
) -> tuple[float, dict[float, float]]:
    """Smallest gamma covered by the most intervals, and the coverage curve.

    An interval covers ``lo <= gamma < hi``, the reference's sweep rule; where two
    relevant records of one query cross, float rounding of the bounds decides whether
    both count at the crossing point. The bounds use the reference's arithmetic, but
    their scores come from matrix products of other shapes, so a last-bit difference can
    still flip such a tie at large scale (seen once, at 1M records: gamma 0.539268 here vs
    0.539473 in the reference, the same validation hit@1).

    Returns 0 when no interval is non-empty. The curve maps sampled lower ends (always
    including 0 and the chosen point) to the fraction of pairs ranked first there.
    """
    if len(lows) == 0:
        return 0.0, {0.0: 0.0}
    lo_sorted = np.sort(lows)
    hi_sorted = np.sort(highs)
    cand = np.unique(np.concatenate([[0.0], lo_sorted]))
    # coverage of [lo, hi) at each candidate, as the reference's sweep counts it
    counts = np.searchsorted(lo_sorted, cand, side="right") - np.searchsorted(
        hi_sorted, cand, side="right"
    )
    best = int(np.argmax(counts))
    gamma = float(cand[best]) if counts[best] > 0 else 0.0
    keep = np.unique(np.linspace(0, len(cand) - 1, min(max_points, len(cand))).astype(int))
    keep = np.union1d(keep, [0, best])
    denom = max(total, 1)
    curve = {float(cand[i]): float(counts[i]) / denom for i in keep}
    return gamma, curve
