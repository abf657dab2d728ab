"""Retrieval metrics over ranked row lists: recall@k, NDCG@k (graded), MRR@k, hit@k.

Definitions follow the NUDGE paper and BEIR: recall@k = hits / min(|relevant|, k);
NDCG@k uses linear graded gains, ``gain / log2(rank + 1)``, against the ideal ordering;
MRR@k is the reciprocal rank of the first relevant row (0 if none in the top k);
hit@k is 1 when any relevant row is in the top k. A row counts as relevant when its
gain is positive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.arguments import nearest
from nudge_integrations.core.errors import NudgeError

METRICS: tuple[str, ...] = ("hit", "recall", "ndcg", "mrr")


def check_metric(metric: str, k: int) -> str:
    """Validate a metric name (a typo gets the nearest name) and cut-off."""
    if not isinstance(metric, str):
        raise NudgeError(f"metric must be a name ({', '.join(METRICS)}), got {metric!r}")
    name = metric.lower().replace("_", "").replace("@", "")
    aliases = {"hitrate": "hit", "accuracy": "hit"}
    name = aliases.get(name, name)
    if name not in METRICS:
        close = nearest(name, METRICS)
        hint = f"did you mean {close!r}? " if close else ""
        raise NudgeError(f"unknown metric {metric!r}: {hint}use one of {', '.join(METRICS)}")
    if not isinstance(k, int | np.integer) or k < 1:
        raise NudgeError(f"k must be a positive integer, got {k!r}")
    return name


class RelevanceTable:
    """Graded relevance of many queries, indexed for vectorised metric computation.

    ``relevance[i]`` maps corpus rows to gains for query ``i`` (or is a sequence of rows,
    each with gain 1). Built once, then :meth:`scores` evaluates any ranked lists.
    """

    def __init__(self, relevance: Sequence[Mapping[int, float] | Sequence[int]], n_rows: int):
        q_idx: list[int] = []
        rows: list[int] = []
        gains: list[float] = []
        for qi, rel in enumerate(relevance):
            items = rel.items() if isinstance(rel, Mapping) else ((r, 1.0) for r in rel)
            for row, gain in items:
                if gain > 0:
                    q_idx.append(qi)
                    rows.append(int(row))
                    gains.append(float(gain))
        self.n_queries = len(relevance)
        self.n_rows = int(n_rows)
        key = np.asarray(q_idx, dtype=np.int64) * (self.n_rows + 1) + np.asarray(rows, np.int64)
        order = np.argsort(key, kind="stable")
        self._keys = key[order]
        self._gains = np.asarray(gains, dtype=np.float64)[order]
        self.counts = np.bincount(np.asarray(q_idx, dtype=np.int64), minlength=self.n_queries)
        self._q_sorted = np.asarray(q_idx, dtype=np.int64)[order]
        self._ideal: dict[int, NDArray[np.float64]] = {}

    def gains_of(self, retrieved: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
        """Gain of each retrieved row (0 where irrelevant or the slot is empty, row -1)."""
        ret = np.asarray(retrieved, dtype=np.int64)
        qi = np.arange(ret.shape[0], dtype=np.int64)[:, None]
        key = qi * (self.n_rows + 1) + ret
        pos = np.searchsorted(self._keys, key)
        pos_c = np.minimum(pos, max(len(self._keys) - 1, 0))
        if len(self._keys) == 0:
            return np.zeros(ret.shape, dtype=np.float64)
        found = (self._keys[pos_c] == key) & (ret >= 0)
        return np.where(found, self._gains[pos_c], 0.0)

    def ideal_dcg(self, k: int) -> NDArray[np.float64]:
        """Best achievable DCG@k per query."""
        if k not in self._ideal:
            idcg = np.zeros(self.n_queries, dtype=np.float64)
            starts = np.concatenate([[0], np.cumsum(self.counts)])
            discounts = 1.0 / np.log2(np.arange(2, k + 2))
            for qi in np.flatnonzero(self.counts):
                g = np.sort(self._gains[starts[qi] : starts[qi + 1]])[::-1][:k]
                idcg[qi] = float(np.dot(g, discounts[: len(g)]))
            self._ideal[k] = idcg
        return self._ideal[k]

    def scores(
        self, retrieved: NDArray[np.integer[Any]], metric: str, k: int
    ) -> NDArray[np.float64]:
        """Per-query ``metric@k`` of ranked rows ``retrieved`` (queries x >= k, best first)."""
        name = check_metric(metric, k)
        ret = np.asarray(retrieved)[:, :k]
        if ret.shape[0] != self.n_queries:
            raise NudgeError(
                f"got ranked lists for {ret.shape[0]} queries but relevance for {self.n_queries}"
            )
        gains = self.gains_of(ret)
        hits = gains > 0
        if name == "hit":
            return np.asarray(hits.any(axis=1), dtype=np.float64)
        if name == "recall":
            denom = np.minimum(self.counts, k).astype(np.float64)
            out = np.zeros(len(denom))
            np.divide(hits.sum(axis=1), denom, out=out, where=denom > 0)
            return out
        if name == "mrr":
            first = np.argmax(hits, axis=1)
            return np.asarray(np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0), np.float64)
        discounts = 1.0 / np.log2(np.arange(2, ret.shape[1] + 2))
        dcg = (gains * discounts).sum(axis=1)
        idcg = self.ideal_dcg(k)
        ndcg = np.zeros(len(dcg))
        np.divide(dcg, idcg, out=ndcg, where=idcg > 0)
        return ndcg

    def mean(self, retrieved: NDArray[np.integer[Any]], metric: str, k: int) -> float:
        """Mean ``metric@k`` over queries."""
        return float(self.scores(retrieved, metric, k).mean()) if self.n_queries else 0.0


def evaluate(
    retrieved: NDArray[np.integer[Any]],
    relevance: Sequence[Mapping[int, float] | Sequence[int]],
    *,
    k: int = 10,
    metrics: Sequence[str] = ("recall", "ndcg", "mrr", "hit"),
    n_rows: int | None = None,
) -> dict[str, float]:
    """Mean of each metric@k over queries, e.g. ``{"ndcg@10": 0.62, ...}``.

    ``retrieved`` holds ranked corpus rows per query (best first, -1 for empty slots);
    ``relevance[i]`` maps rows to gains (or lists relevant rows) for query ``i``.
    """
    ret = np.asarray(retrieved, dtype=np.int64)
    if ret.ndim != 2 or ret.shape[0] != len(relevance):
        raise NudgeError(
            f"retrieved must be (n_queries, depth) with one row per relevance entry; got shape "
            f"{ret.shape} for {len(relevance)} queries"
        )
    if ret.shape[1] < k:
        raise NudgeError(f"need at least {k} ranked rows per query for @{k}, got {ret.shape[1]}")
    max_rel = max((max(r) if len(r) else 0 for r in relevance), default=0)
    rows = n_rows if n_rows is not None else int(max(ret.max(initial=0), max_rel)) + 1
    table = RelevanceTable(relevance, rows)
    return {f"{check_metric(m, k)}@{k}": table.mean(ret, m, k) for m in metrics}


def score_columns(
    retrieved: NDArray[np.integer[Any]],
    relevance: Sequence[Mapping[int, float] | Sequence[int]],
    columns: Sequence[tuple[str, int]],
    *,
    n_rows: int,
) -> dict[str, float]:
    """Mean ``metric@k`` for each ``(metric, k)`` column, from one relevance index."""
    table = RelevanceTable(relevance, n_rows)
    ret = np.asarray(retrieved, dtype=np.int64)
    return {f"{check_metric(m, k)}@{k}": table.mean(ret, m, k) for m, k in columns}
