"""A corpus on disk as a folder of shards: fit against more records than memory holds.

Layout of a shard folder (written by :func:`write_shards`)::

    manifest.json          {"format": "nudge-shards", "version": 1, "dim", "dtype", "count",
                            "shards": [{"name": "shard-00000", "rows": ...}, ...]}
    shard-00000.npy        float32 vectors, (rows, dim)
    shard-00000.ids.npy    the rows' ids as UTF-8 bytes (fixed width)
    shard-00000.keys.npy   sorted 64-bit hashes of those ids, and
    shard-00000.order.npy  the row of each hash: an id is found by binary search

Shards are memory-mapped, so reading a record or scanning the corpus costs page cache,
not anonymous memory. :func:`fit_shards` reads only the records the queries name and
finds each validation query's untouched competitors in one streamed scan.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
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
from nudge_integrations.core.search import scan_chunks
from nudge_integrations.core.shard_writer import (
    FORMAT,
    MANIFEST,
    ROWS_PER_SHARD,
    VERSION,
    ShardError,
    ShardWriter,
    _read_manifest,
    encode_ids,
    hash_ids,
    write_shards,
)

__all__ = [
    "FORMAT",
    "MANIFEST",
    "ROWS_PER_SHARD",
    "VERSION",
    "ShardError",
    "ShardWriter",
    "ShardedCorpus",
    "encode_ids",
    "fit_shards",
    "hash_ids",
    "write_shards",
]


# -------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Shard:
    """One shard: its name, rows, and the global row of its first record."""

    name: str
    rows: int
    first: int


@dataclass(frozen=True)
class FolderOpener:
    """Opens a ``.npy`` shard folder by path (see :meth:`ShardedCorpus.opener`)."""

    folder: str

    def __call__(self) -> ShardedCorpus:
        return ShardedCorpus(self.folder)


class ShardedCorpus:
    """A shard folder opened for reading: records by id, and streamed exact scans.

    Opening reads the manifest and each shard's ``.npy`` headers only and checks them
    (dimension, dtype, row and id counts), naming the shard at fault. Vectors are checked
    for NaN/inf as they are scanned. Global rows number the records in shard order.
    It is also a :class:`~nudge_integrations.core.sources.RecordSource` (exact).
    """

    exact = True

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.manifest = _read_manifest(self.folder)
        self.dim = int(self.manifest["dim"])
        shards, first = [], 0
        for info in self.manifest["shards"]:
            shard = Shard(str(info["name"]), int(info["rows"]), first)
            self._check_shard(shard)
            shards.append(shard)
            first += shard.rows
        if first != int(self.manifest["count"]):
            raise ShardError(
                f"{self.folder / MANIFEST} counts {self.manifest['count']} records but its "
                f"shards hold {first}"
            )
        self.shards: list[Shard] = shards
        self.count = first
        self.firsts = np.asarray([s.first for s in shards], dtype=np.int64)
        self._vectors: dict[int, NDArray[np.float32]] = {}
        #: Rows read by id and rows scanned since opening (what a refit costs).
        self.rows_read = 0
        self.rows_scanned = 0

    @classmethod
    def from_parquet(
        cls,
        source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        id_column: str = "id",
        vector_column: str = "vector",
        *,
        dim: int | None = None,
        batch_rows: int | None = None,
    ) -> ShardedCorpus:
        """Parquet files (a folder, searched recursively, a file, or a list of files) as a
        corpus, each file one shard: one row per record, ``id_column`` (strings or
        integers) and ``vector_column`` (a fixed-size list, or list, of floats). Read in
        batches of ``batch_rows``; see :mod:`nudge_integrations.core.parquet_shards`."""
        from nudge_integrations.core.parquet_shards import BATCH_ROWS, ParquetCorpus

        return ParquetCorpus(
            source, id_column, vector_column, dim=dim, batch_rows=batch_rows or BATCH_ROWS
        )

    def opener(self) -> Callable[[], ShardedCorpus]:
        """A picklable, hashable callable that opens this corpus again in another process
        (a Ray worker sees the same files at the same paths)."""
        return FolderOpener(str(self.folder.resolve()))

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        size = f"{self.count} x {self.dim}, {len(self.shards)} shards"
        return f"ShardedCorpus({str(self.folder)!r}, {size})"

    # ---------------------------------------------------------------- validation
    def _check_shard(self, shard: Shard) -> None:
        where = f"shard {shard.name} in {self.folder}"
        paths = {
            suffix: self.folder / f"{shard.name}{suffix}"
            for suffix in (".npy", ".ids.npy", ".keys.npy", ".order.npy")
        }
        for path in paths.values():
            if not path.exists():
                raise ShardError(f"{where}: {path.name} is missing")
        try:
            vec = np.load(paths[".npy"], mmap_mode="r")
            ids = np.load(paths[".ids.npy"], mmap_mode="r")
            keys = np.load(paths[".keys.npy"], mmap_mode="r")
            order = np.load(paths[".order.npy"], mmap_mode="r")
        except (OSError, ValueError) as err:
            raise ShardError(f"{where}: cannot read it as .npy ({err})") from err
        if vec.dtype != np.float32:
            raise ShardError(
                f"{where} holds {vec.dtype} vectors; shards must be float32 "
                "(convert with .astype(np.float32) and write again)"
            )
        if vec.ndim != 2 or vec.shape[1] != self.dim:
            raise ShardError(
                f"{where} holds vectors of shape {vec.shape}, but the folder's dimension is "
                f"{self.dim}: every shard must come from the same embedding model"
            )
        if vec.shape[0] != shard.rows:
            raise ShardError(
                f"{where} holds {vec.shape[0]} rows but the manifest says {shard.rows}"
            )
        if ids.dtype.kind != "S" or ids.shape != (shard.rows,):
            raise ShardError(
                f"{where}: its ids file holds {ids.shape} {ids.dtype} values for "
                f"{shard.rows} rows (one id per row, as bytes, is needed)"
            )
        if keys.shape != (shard.rows,) or order.shape != (shard.rows,):
            raise ShardError(f"{where}: its id index does not match its {shard.rows} rows")

    # ------------------------------------------------------------------- access
    def vectors(self, shard: int) -> NDArray[np.float32]:
        """Shard ``shard``'s vectors, memory-mapped read-only."""
        got = self._vectors.get(shard)
        if got is None:
            got = np.load(self.folder / f"{self.shards[shard].name}.npy", mmap_mode="r")
            self._vectors[shard] = got
        return got

    def _ids(self, shard: int) -> NDArray[np.bytes_]:
        ids: NDArray[np.bytes_] = np.load(
            self.folder / f"{self.shards[shard].name}.ids.npy", mmap_mode="r"
        )
        return ids

    def locate(self, ids: Sequence[Any]) -> NDArray[np.int64]:
        """Global rows of ``ids`` (``-1`` where absent), by binary search of each shard's
        hash index: no id map of the whole corpus is built."""
        enc = encode_ids(ids)
        return self.locate_encoded(enc, hash_ids(enc))

    def locate_encoded(
        self, enc: NDArray[np.bytes_], hashes: NDArray[np.uint64]
    ) -> NDArray[np.int64]:
        """:meth:`locate` for ids already encoded and hashed."""
        out = np.full(len(enc), -1, dtype=np.int64)
        for si, shard in enumerate(self.shards):
            keys = np.load(self.folder / f"{shard.name}.keys.npy", mmap_mode="r")
            order = np.load(self.folder / f"{shard.name}.order.npy", mmap_mode="r")
            ids = self._ids(si)
            lo = np.searchsorted(keys, hashes, "left")
            hi = np.searchsorted(keys, hashes, "right")
            for i in np.flatnonzero((hi > lo) & (out < 0)):
                for p in range(lo[i], hi[i]):
                    row = int(order[p])
                    if ids[row] == enc[i]:
                        out[i] = shard.first + row
                        break
        return out

    def shard_of(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Index of the shard holding each global row."""
        return np.searchsorted(self.firsts, rows, "right") - 1

    def rows(self, rows: Sequence[int] | NDArray[np.int64]) -> NDArray[np.float32]:
        """Vectors of global ``rows`` (in the order given)."""
        r = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(r), self.dim), dtype=np.float32)
        where = self.shard_of(r)
        for si in np.unique(where):
            pick = np.flatnonzero(where == si)
            local = r[pick] - self.shards[si].first
            order = np.argsort(local)
            out[pick[order]] = self.vectors(int(si))[local[order]]
        self.rows_read += len(r)
        return out

    def ids_at(self, rows: Sequence[int] | NDArray[np.int64]) -> list[str]:
        """String ids of global ``rows``."""
        r = np.asarray(rows, dtype=np.int64)
        out: list[str] = [""] * len(r)
        where = self.shard_of(r)
        for si in np.unique(where):
            pick = np.flatnonzero(where == si)
            got = self._ids(int(si))[r[pick] - self.shards[si].first]
            for j, key in zip(pick.tolist(), got.tolist(), strict=True):
                out[j] = key.decode("utf-8")
        return out

    def blocks(self, rows_per_block: int | None = None) -> list[tuple[int, int, int]]:
        """The corpus as ``(shard, start, stop)`` row ranges of at most ``rows_per_block``:
        the unit of work of a distributed scan."""
        out = []
        for si, shard in enumerate(self.shards):
            step = rows_per_block or max(1, shard.rows)
            out += [(si, s, min(shard.rows, s + step)) for s in range(0, shard.rows, step)]
        return out

    # --------------------------------------------------------------------- scans
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
        info = self.shards[shard]
        mask = window_mask(exclude_rows, info.first + start, stop - start)
        s, i = scan_chunks(
            queries,
            self.vectors(shard)[start:stop],
            k,
            normalize=True,
            exclude=mask,
            chunk_size=chunk_size,
            row_offset=info.first + start,
            name=f"shard {info.name} (global rows from {info.first})",
            allow_zero=False,  # as write_shards and the in-memory fit: no direction
        )
        self.rows_scanned += stop - start
        return s, i

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
        """Stored vectors of the ``ids`` the folder holds."""
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
