"""A shard folder opened for reading (:class:`ShardedCorpus`), and parquet files as one.

Layout of a ``.npy`` shard folder (written by
:func:`~nudge_integrations.core.shard_writer.write_shards`)::

    manifest.json          {"format": "nudge-shards", "version": 1, "dim", "dtype", "count",
                            "shards": [{"name": "shard-00000", "rows": ...}, ...]}
    shard-00000.npy        float32 vectors, (rows, dim)
    shard-00000.ids.npy    the rows' ids as UTF-8 bytes (fixed width)
    shard-00000.keys.npy   sorted 64-bit hashes of those ids, and
    shard-00000.order.npy  the row of each hash: an id is found by binary search

Shards are memory-mapped, so reading a record or scanning the corpus costs page cache,
not anonymous memory. :class:`ParquetCorpus` is defined here, beside the
:meth:`ShardedCorpus.from_parquet` that opens it, so that it can be a ``ShardedCorpus``
while its reading (:mod:`~nudge_integrations.core.parquet_shards`) imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.parquet_shards import BATCH_ROWS, ParquetReader
from nudge_integrations.core.search import scan_chunks
from nudge_integrations.core.shard_format import MANIFEST, SHARD_FILES, ShardError, read_manifest
from nudge_integrations.core.shard_set import Shard, ShardSet, window_mask

__all__ = ["FolderOpener", "ParquetCorpus", "ShardedCorpus"]


@dataclass(frozen=True)
class FolderOpener:
    """Opens a ``.npy`` shard folder by path (see :meth:`ShardedCorpus.opener`)."""

    folder: str

    def __call__(self) -> ShardedCorpus:
        return ShardedCorpus(self.folder)


class ShardedCorpus(ShardSet):
    """A shard folder opened for reading: records by id, and streamed exact scans.

    Opening reads the manifest and each shard's ``.npy`` headers only and checks them
    (dimension, dtype, row and id counts), naming the shard at fault. Vectors are checked
    for NaN/inf as they are scanned. Global rows number the records in shard order.
    It is also a :class:`~nudge_integrations.core.sources.RecordSource` (exact).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
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
        self.shards = shards
        self.count = first
        self.firsts = np.asarray([s.first for s in shards], dtype=np.int64)
        self._vectors: dict[int, NDArray[np.float32]] = {}
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
        return ParquetCorpus(
            source, id_column, vector_column, dim=dim, batch_rows=batch_rows or BATCH_ROWS
        )

    def opener(self) -> Callable[[], ShardedCorpus]:
        """See :meth:`ShardSet.opener`."""
        return FolderOpener(str(self.folder.resolve()))

    def __repr__(self) -> str:
        size = f"{self.count} x {self.dim}, {len(self.shards)} shards"
        return f"ShardedCorpus({str(self.folder)!r}, {size})"

    # ---------------------------------------------------------------- validation
    def _check_shard(self, shard: Shard) -> None:
        where = f"shard {shard.name} in {self.folder}"
        paths = {suffix: self.folder / f"{shard.name}{suffix}" for suffix in SHARD_FILES}
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

    def locate_encoded(
        self, enc: NDArray[np.bytes_], hashes: NDArray[np.uint64]
    ) -> NDArray[np.int64]:
        """Global rows of encoded ids (``-1`` where absent), by binary search of each
        shard's hash index."""
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


class ParquetCorpus(ParquetReader, ShardedCorpus):
    """Parquet files read as a :class:`ShardedCorpus` (``fit_shards``, ``fit_ray``,
    ``fit_by_id``); open with :meth:`ShardedCorpus.from_parquet`.

    Every read is :class:`~nudge_integrations.core.parquet_shards.ParquetReader`'s (first
    in the method order); deriving from ``ShardedCorpus`` too is what lets it stand
    wherever a ``ShardedCorpus`` is asked for.
    """
