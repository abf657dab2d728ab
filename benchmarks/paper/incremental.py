"""Records inserted after the fit: do earlier queries keep their gains?

A random 10% of SciFact's records (``numpy`` seed 0) is held back. Every method is fitted
on the other 90% with the judgements that point there (training and validation queries
left without a relevant record are dropped). Then the held-back records are inserted as
they come, with their base vectors and no refit (the incremental path of the adapters:
``insert_nodes(..., refit=False)`` / adding documents to the store). Reported:

* earlier test queries (all their relevant records were there at fit time): metrics
  before and after the insertion, i.e. how much the new records get in their way;
* test queries about new records (a relevant record among the inserted): metrics after
  the insertion, i.e. whether unnudged newcomers can still be found among nudged records.

Full fine-tuning is left out: it would need a third time-boxed training, and a model-side
method embeds a new record with the same model as the old ones, so it has no such
asymmetry to measure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.paper import methods
from benchmarks.paper.data import Queries, SciFact, score


def _restrict(q: Queries, pos: np.ndarray) -> tuple[Queries, Queries]:
    """(queries with every relevant record kept, renumbered; the others, full rows)."""
    inside = [i for i, rel in enumerate(q.relevant) if all(pos[r] >= 0 for r in rel)]
    outside = [i for i, rel in enumerate(q.relevant) if any(pos[r] < 0 for r in rel)]
    kept = q.subset(inside)
    kept.relevant = [{int(pos[r]): g for r, g in rel.items()} for rel in kept.relevant]
    return kept, q.subset(outside)


def _partial(q: Queries, pos: np.ndarray) -> Queries:
    """Queries keeping only their judgements on kept records (training signal)."""
    keep = [i for i, rel in enumerate(q.relevant) if any(pos[r] >= 0 for r in rel)]
    out = q.subset(keep)
    out.relevant = [{int(pos[r]): g for r, g in rel.items() if pos[r] >= 0} for rel in out.relevant]
    return out


def incremental(
    data: SciFact, *, fraction: float = 0.1, seed: int = 0, log: Callable[[str], None] = print
) -> dict[str, Any]:
    n = data.n
    late = np.random.default_rng(seed).choice(n, size=round(fraction * n), replace=False)
    keep_rows = np.setdiff1d(np.arange(n), late)
    pos = np.full(n, -1, dtype=np.int64)
    pos[keep_rows] = np.arange(len(keep_rows))
    sub = SciFact(
        data.corpus[keep_rows],
        [data.corpus_ids[i] for i in keep_rows],
        [data.corpus_texts[i] for i in keep_rows],
    )
    train = _partial(data.splits["train"], pos)
    val = _partial(data.splits["val"], pos)
    test = data.splits["test"]
    earlier_sub, new_q = _restrict(test, pos)
    earlier_full = test.subset([i for i, q in enumerate(test.ids) if q in set(earlier_sub.ids)])

    fitted: list[methods.Served] = [methods.no_finetuning(sub)]
    for variant in ("N", "M"):
        args = (sub.corpus, train.vectors, train, val.vectors, val, variant)
        fitted.append(methods.nudge(f"NUDGE-{variant}", *args))
        fitted.append(
            methods.nudge(f"NUDGE-{variant} + val refit", *args, refit_with_validation=True)
        )
    served, ad = methods.adapter(sub, train, val)
    fitted.append(served)
    fitted.append(methods.adapter_plus_nudge(sub, train, val, ad, "N"))

    rows = []
    for m in fitted:
        full = data.corpus.copy()
        full[keep_rows] = m.corpus
        row: dict[str, Any] = {
            "method": m.name,
            "earlier_before": score(m.queries(earlier_sub), m.corpus, earlier_sub.relevant),
            "earlier_after": score(m.queries(earlier_full), full, earlier_full.relevant),
            "new_after": score(m.queries(new_q), full, new_q.relevant),
        }
        rows.append(row)
        log(
            f"incremental {m.name}: earlier {row['earlier_before']['ndcg@10']:.4f} -> "
            f"{row['earlier_after']['ndcg@10']:.4f}, new-record queries "
            f"{row['new_after']['ndcg@10']:.4f}"
        )
    return {
        "inserted": len(late),
        "kept": len(keep_rows),
        "train_queries": len(train),
        "val_queries": len(val),
        "earlier_test_queries": len(earlier_sub),
        "new_record_test_queries": len(new_q),
        "rows": rows,
    }
