"""Which candidate improvement is chosen, on validation alone.

Rows are grouped by NUDGE variant and baseline (the faithful fit with a validation set;
the hold-out path without one). In each group the candidate with the best validation
NDCG@10 is chosen when it beats the baseline's by more than ``MARGIN`` (about one
question's rank change among the 110 validation questions); otherwise the baseline stays.
Test and the OOD split take no part: they are reported after the choice.
"""

from __future__ import annotations

from typing import Any

MARGIN = 0.005
CHOSEN, NOT_CHOSEN, BASELINE = "chosen", "not chosen", "baseline"


def group(row: dict[str, Any]) -> tuple[str, str]:
    """(variant, the baseline the row is judged against, itself for a baseline)."""
    return row["variant"], row["baseline"] or row["candidate"]


def choose(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The chosen candidate of each group (the baseline when none beats it by ``MARGIN``)."""
    base = {group(r): r for r in rows if not r["baseline"]}
    best: dict[tuple[str, str], str] = {}
    for key, b in base.items():
        rivals = [r for r in rows if r["baseline"] and group(r) == key]
        top = max(rivals, key=lambda r: r["val"], default=None)
        wins = top is not None and top["val"] > b["val"] + MARGIN
        best[key] = top["candidate"] if wins and top is not None else b["candidate"]
    return best


def verdicts(rows: list[dict[str, Any]]) -> None:
    """Set each row's ``verdict`` from its validation score alone."""
    chosen = choose(rows)
    for r in rows:
        if not r["baseline"]:
            r["verdict"] = BASELINE
        else:
            r["verdict"] = CHOSEN if chosen.get(group(r)) == r["candidate"] else NOT_CHOSEN
