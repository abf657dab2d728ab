"""Before/after retrieval evaluation of embedding matrices, and plain-text tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.metrics import score_columns
from nudge_integrations.core.search import exact_search

DEFAULT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("ndcg", 10),
    ("recall", 10),
    ("mrr", 10),
    ("hit", 1),
)


def evaluate_embeddings(
    queries: Any,
    corpus: Any,
    relevance: Sequence[Mapping[int, float] | Sequence[int]],
    *,
    similarity: str = "dot",
    columns: Sequence[tuple[str, int]] = DEFAULT_COLUMNS,
    device: str = "auto",
) -> dict[str, float]:
    """Exact search of ``queries`` over ``corpus``, scored as ``{"ndcg@10": ..., ...}``."""
    depth = max(k for _, k in columns)
    _, rows = exact_search(queries, corpus, depth, similarity=similarity, device=device)
    return score_columns(rows, relevance, columns, n_rows=int(corpus.shape[0]))


def format_table(rows: Mapping[str, Mapping[str, float]], *, digits: int = 4) -> str:
    """A Markdown table: one row per label, one column per metric."""
    labels = list(rows)
    if not labels:
        return ""
    cols = list(rows[labels[0]])

    def cell(value: Any) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    cells = [[cell(rows[label][c]) for c in cols] for label in labels]
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(cols)]
    lw = max(len(label) for label in labels)
    head = f"| {'':<{lw}} | " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    rule = f"|{'-' * (lw + 2)}|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        f"| {label:<{lw}} | "
        + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True))
        + " |"
        for label, r in zip(labels, cells, strict=True)
    ]
    head += " |"
    return "\n".join([head, rule, *body])


def evaluate_ranked_ids(
    ranked: Sequence[Sequence[str]],
    judgements: Sequence[Mapping[str, float]],
    *,
    columns: Sequence[tuple[str, int]] = DEFAULT_COLUMNS,
) -> dict[str, float]:
    """Metrics of ranked id lists (one per query, best first) against graded judgements.

    What any retriever returns can be scored this way, whatever framework produced it.
    """
    if len(ranked) != len(judgements):
        raise NudgeError(f"got {len(ranked)} ranked lists for {len(judgements)} queries")
    depth = max(k for _, k in columns)
    row: dict[str, int] = {}
    for ids in (*ranked, *judgements):
        for doc in ids:
            row.setdefault(doc, len(row))
    matrix = np.full((len(ranked), depth), -1, dtype=np.int64)
    for i, ids in enumerate(ranked):
        cut = [row[d] for d in list(ids)[:depth]]
        matrix[i, : len(cut)] = cut
    relevance = [{row[d]: float(g) for d, g in j.items()} for j in judgements]
    return score_columns(matrix, relevance, columns, n_rows=max(len(row), 1))
