"""What every shard corpus does the same way, whatever its files: the base of both readers.

:class:`ShardSet` declares what a corpus of shards holds (dimension, shards, global rows)
and the few reads each file format implements (rows by position, ids by position, ids
to rows, one block's scan); on those it builds lookup by id, the exact top-k over every
shard and the :class:`~nudge_integrations.core.sources.RecordSource` reads. The ``.npy``
reader (:class:`~nudge_integrations.core.shard_corpus.ShardedCorpus`) and the parquet
reader (:class:`~nudge_integrations.core.parquet_shards.ParquetReader`) both derive from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.shard_format import encode_ids, hash_ids


@dataclass(frozen=True)
class Shard:
    """One shard: its name, rows, and the global row of its first record."""

    name: str
    rows: int
    first: int


class ShardSet(ABC):
    """Records held in shards, numbered by global row in shard order.

    A subclass sets the attributes below when it opens its files and implements the
    abstract reads; lookup by id, :meth:`topk` and the ``RecordSource`` reads follow.
    """

    #: A RecordSource whose reads and scans are exact (no approximate index).
    exact = True

    folder: Path
    dim: int
    shards: list[Shard]
    count: int
    #: Global row of each shard's first record (for :meth:`shard_of`).
    firsts: NDArray[np.int64]
    manifest: dict[str, Any]
    #: Rows read by id and rows scanned since opening (what a refit costs).
    rows_read: int
    rows_scanned: int

    # ------------------------------------------------------- what a format reads
    @abstractmethod
    def opener(self) -> Callable[[], ShardSet]:
        """A picklable, hashable callable that opens this corpus again in another process
        (a Ray worker sees the same files at the same paths)."""

    @abstractmethod
    def locate_encoded(
        self, enc: NDArray[np.bytes_], hashes: NDArray[np.uint64]
    ) -> NDArray[np.int64]:
        """Global rows of ids already encoded and hashed (``-1`` where absent)."""

    @abstractmethod
    def rows(self, rows: Sequence[int] | NDArray[np.int64]) -> NDArray[np.float32]:
        """Vectors of global ``rows`` (in the order given)."""

    @abstractmethod
    def ids_at(self, rows: Sequence[int] | NDArray[np.int64]) -> list[str]:
        """String ids of global ``rows``."""

    @abstractmethod
    def blocks(self, rows_per_block: int | None = None) -> list[tuple[int, int, int]]:
        """The corpus as ``(shard, start, stop)`` row ranges of at most ``rows_per_block``:
        the unit of work of a distributed scan."""

    @abstractmethod
    def scan_block(
        self,
        queries: NDArray[np.float32],
        k: int,
        shard: int,
        start: int,
        stop: int,
        exclude_rows: NDArray[np.int64] | None = None,
        chunk_size: int | None = None,
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` (cosine) of rows ``start:stop`` of one shard, global rows, skipping the
        sorted global ``exclude_rows``."""

    # --------------------------------------------------------- built on them
    def __len__(self) -> int:
        return self.count

    def locate(self, ids: Sequence[Any]) -> NDArray[np.int64]:
        """Global rows of ``ids`` (``-1`` where absent), found through the ids' hashes: no
        id map of the whole corpus is built."""
        enc = encode_ids(ids)
        return self.locate_encoded(enc, hash_ids(enc))

    def shard_of(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Index of the shard holding each global row."""
        return np.searchsorted(self.firsts, rows, "right") - 1

    def topk(
        self,
        queries: NDArray[np.float32],
        k: int,
        exclude_rows: NDArray[np.int64] | None = None,
        chunk_size: int | None = None,
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Exact top-``k`` by cosine over every shard: ``(scores, global rows)``."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        ex = None if exclude_rows is None else np.sort(np.asarray(exclude_rows, np.int64))
        parts = [
            self.scan_block(q, k, si, 0, shard.rows, ex, chunk_size)
            for si, shard in enumerate(self.shards)
            if shard.rows
        ]
        return merge_topk(parts, k, len(q))

    # ------------------------------------------------------- RecordSource protocol
    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Stored vectors of the ``ids`` the corpus holds."""
        rows = self.locate(ids)
        keep = np.flatnonzero(rows >= 0)
        vecs = self.rows(rows[keep])
        return {str(ids[i]): vecs[j] for j, i in enumerate(keep.tolist())}

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Up to ``limit`` ids per query, best first by cosine (one exact scan)."""
        return self.nearest_outside(queries, limit, ())

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: Iterable[str]
    ) -> list[list[str]]:
        """:meth:`nearest` leaving out the ids in ``skip`` (masked inside the scan)."""
        skip_rows = self.locate(list(skip)) if skip else np.zeros(0, np.int64)
        _, rows = self.topk(queries, limit, skip_rows[skip_rows >= 0])
        flat = rows[rows >= 0]
        names = iter(self.ids_at(flat))
        return [[next(names) for r in per if r >= 0] for per in rows]


def window_mask(
    exclude_rows: NDArray[np.int64] | None, first: int, length: int
) -> NDArray[np.bool_] | None:
    """Which of the global rows ``first .. first + length`` the sorted global
    ``exclude_rows`` names, as a mask (None when none)."""
    if exclude_rows is None or not len(exclude_rows):
        return None
    lo, hi = np.searchsorted(exclude_rows, [first, first + length])
    if hi <= lo:
        return None
    mask = np.zeros(length, dtype=bool)
    mask[exclude_rows[lo:hi] - first] = True
    return mask


def merge_topk(
    parts: Sequence[tuple[NDArray[np.float32], NDArray[np.int64]]], k: int, m: int
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Merge per-block top-``k`` lists into one, best first, ties to the lower row."""
    if not parts:
        return np.full((m, k), -np.inf, np.float32), np.full((m, k), -1, np.int64)
    s = np.concatenate([p[0] for p in parts], axis=1)
    r = np.concatenate([p[1] for p in parts], axis=1)
    r_key = np.where(r < 0, np.iinfo(np.int64).max, r)
    order = np.lexsort((r_key, -s), axis=1)[:, :k]
    best_s = np.take_along_axis(s, order, axis=1)
    best_r = np.take_along_axis(r, order, axis=1)
    if best_s.shape[1] < k:
        pad = k - best_s.shape[1]
        best_s = np.pad(best_s, ((0, 0), (0, pad)), constant_values=-np.inf)
        best_r = np.pad(best_r, ((0, 0), (0, pad)), constant_values=-1)
    best_r[np.isneginf(best_s)] = -1
    return best_s.astype(np.float32), best_r.astype(np.int64)
