"""A corpus on disk as a folder of shards: fit against more records than memory holds.

The public face of the shard modules, which stack without import cycles:
:mod:`~nudge_integrations.core.shard_format` (ids, manifest, file listing) <
:mod:`~nudge_integrations.core.shard_set` (what every shard corpus does) <
:mod:`~nudge_integrations.core.parquet_shards` (parquet reading) <
:mod:`~nudge_integrations.core.shard_corpus` (:class:`ShardedCorpus` over ``.npy``
shards, :class:`ParquetCorpus`) < :mod:`~nudge_integrations.core.shard_writer`
(:func:`write_shards`) < this module, which fits (:func:`fit_shards`) and re-exports
their names. The folder layout is described in :mod:`~nudge_integrations.core.shard_corpus`.

Shards are memory-mapped, so reading a record or scanning the corpus costs page cache,
not anonymous memory. :func:`fit_shards` reads only the records the queries name and
finds each validation query's untouched competitors in one streamed scan.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from nudge_integrations.core.fit_by_id import (
    Estimator,
    check_named,
    fit_named,
    named_ids,
    unknown_ids,
)
from nudge_integrations.core.ids import Judgements
from nudge_integrations.core.shard_corpus import FolderOpener, ParquetCorpus, ShardedCorpus
from nudge_integrations.core.shard_format import (
    FORMAT,
    MANIFEST,
    ROWS_PER_SHARD,
    VERSION,
    ShardError,
    encode_ids,
    hash_ids,
)
from nudge_integrations.core.shard_set import Shard, ShardSet, merge_topk, window_mask
from nudge_integrations.core.shard_writer import ShardWriter, write_shards

__all__ = [
    "FORMAT",
    "MANIFEST",
    "ROWS_PER_SHARD",
    "VERSION",
    "FolderOpener",
    "GlobalTopK",
    "ParquetCorpus",
    "Shard",
    "ShardCompetitors",
    "ShardError",
    "ShardSet",
    "ShardWriter",
    "ShardedCorpus",
    "encode_ids",
    "fit_shards",
    "hash_ids",
    "merge_topk",
    "window_mask",
    "write_shards",
]


# ------------------------------------------------------------------------------ fit
class GlobalTopK(Protocol):
    """What :class:`ShardCompetitors` needs: exact top-k over global rows."""

    def topk(
        self, queries: NDArray[np.float32], k: int, exclude_rows: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]: ...


class ShardCompetitors:
    """A :class:`~nudge_integrations.core.competitors.CompetitorSource` over a sharded
    scan: the fit's local rows are ``global_rows``; competitors outside them get row -1.

    Scores come from the scan itself (no read-back), so the fit makes exactly one pass.
    """

    def __init__(self, engine: GlobalTopK, global_rows: NDArray[np.int64]) -> None:
        self.engine = engine
        self.global_rows = np.asarray(global_rows, dtype=np.int64)
        self._sorted = np.argsort(self.global_rows)

    def topk(
        self, queries: torch.Tensor, k: int, exclude: NDArray[np.bool_]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q = queries.detach().cpu().numpy().astype(np.float32)
        s, g = self.engine.topk(q, k, np.sort(self.global_rows[exclude]))
        gs = self.global_rows[self._sorted]
        pos = np.clip(np.searchsorted(gs, g), 0, max(0, len(gs) - 1))
        found = (g >= 0) & (len(gs) > 0) & (gs[pos] == g) if len(gs) else np.zeros_like(g, bool)
        local = np.where(found, self._sorted[pos] if len(gs) else -1, -1)
        dev = queries.device
        return torch.from_numpy(s).to(dev), torch.from_numpy(local.astype(np.int64)).to(dev)


def fit_shards(
    estimator: Estimator,
    corpus: ShardedCorpus | str | os.PathLike[str],
    train_queries: Any,
    train_relevant: Sequence[Judgements],
    val_queries: Any = None,
    val_relevant: Sequence[Judgements] | None = None,
    *,
    engine: GlobalTopK | None = None,
) -> Estimator:
    """Fit ``estimator`` on a shard folder; judgements name records by id.

    Reads the named records (touched and validation-relevant) by id and finds the
    untouched competitors in one streamed scan (``engine``: the corpus itself, or a
    distributed scan such as :class:`nudge_integrations.ray_engine.RayScan`). The result
    holds string ids, the moved vectors, and ``rows`` as global rows of the folder. Gamma
    and vectors equal the in-memory fit over the same vectors.
    """
    shards = corpus if isinstance(corpus, ShardedCorpus) else ShardedCorpus(corpus)
    keys, ids = named_ids(train_relevant, val_relevant)
    rows = shards.locate(ids)
    if (rows < 0).any():
        absent = [k for k, r in zip(keys, rows, strict=True) if r < 0]
        raise unknown_ids(absent, str(shards.folder))
    local = shards.rows(rows)
    check_named(local, ids, f"the shard folder {shards.folder}")
    competitors = ShardCompetitors(engine or shards, rows)
    result = fit_named(
        estimator,
        local,
        keys,
        competitors,
        train_queries,
        train_relevant,
        val_queries,
        val_relevant,
    )
    estimator.result_ = dataclasses.replace(
        result, rows=rows[np.asarray(result.rows, dtype=np.int64)], n_records=len(shards)
    )
    return estimator
