"""Parquet files opened as a shard folder: fit a corpus already held as parquet, unconverted.

Each file is one shard; a record is one row with an id column (strings or integers) and a
vector column (``FixedSizeList<float32>``, or a list of floats of one length). Vectors
are read with pyarrow in batches of at most ``batch_rows`` rows of the needed row groups,
through a read buffer (``pre_buffer`` off), so resident memory is one batch and never a
whole file; a ``FixedSizeList<float32>`` (or ``list<float32>``) column becomes numpy
without a copy. Needs pyarrow (``pip install 'nudge-integrations[parquet]'``).

Ids keep the ``.npy`` folders' guarantees without their stored hash index: opening hashes
every id once (64-bit FNV-1a, as :func:`hash_ids`) and refuses duplicates, holding at most
:data:`HASHES_PER_PASS` hashes at a time; :meth:`ParquetReader.locate_encoded` streams the id
column and matches hashes against the ids asked for, so no id map of the corpus is kept.

:class:`ParquetReader` is that reading on a :class:`~nudge_integrations.core.shard_set.ShardSet`;
the corpus users get, :class:`~nudge_integrations.core.shard_corpus.ParquetCorpus` (a
:class:`ShardedCorpus`, opened by ``ShardedCorpus.from_parquet``), joins it to the ``.npy``
reader in :mod:`nudge_integrations.core.shard_corpus`, so this module imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import DuplicateIdError
from nudge_integrations.core.search import scan_chunks
from nudge_integrations.core.shard_format import (
    ShardError,
    hash_ids,
    import_pyarrow,
    parquet_files,
)
from nudge_integrations.core.shard_set import Shard, ShardSet, merge_topk, window_mask

__all__ = [
    "BATCH_ROWS",
    "HASHES_PER_PASS",
    "READ_BUFFER",
    "ParquetOpener",
    "ParquetReader",
    "ParquetShard",
    "parquet_files",
]

#: Rows per batch read from a parquet file (25 MB of float32 at d = 384).
BATCH_ROWS = 16_384
#: Bytes of a file read at once while decoding a column chunk (pages stream through it).
READ_BUFFER = 8 << 20
#: Id hashes held at once by the duplicate check (16 bytes each with their rows); more
#: records take more passes over the id column.
HASHES_PER_PASS = 1 << 24


@dataclass(frozen=True)
class ParquetShard(Shard):
    """One parquet file: its path and the rows of each of its row groups."""

    path: str
    groups: tuple[int, ...]


Reader = TypeVar("Reader", bound="ParquetReader")


@dataclass(frozen=True)
class ParquetOpener(Generic[Reader]):
    """Opens the same parquet corpus (as the same class) in another process (a Ray worker)
    without repeating the duplicate-id pass, refusing files whose row counts changed since."""

    kind: type[Reader]
    files: tuple[str, ...]
    id_column: str
    vector_column: str
    dim: int
    batch_rows: int
    rows: tuple[int, ...]

    def __call__(self) -> Reader:
        corpus = self.kind(
            list(self.files),
            self.id_column,
            self.vector_column,
            dim=self.dim,
            batch_rows=self.batch_rows,
            check_ids=False,
        )
        if tuple(s.rows for s in corpus.shards) != self.rows:
            raise ShardError(
                f"the parquet files under {corpus.folder} changed since they were opened "
                "(row counts differ): open them again"
            )
        return corpus


class ParquetReader(ShardSet):
    """Parquet files read as shards: one file per shard, read in batches of row groups.

    Users get it as :class:`~nudge_integrations.core.shard_corpus.ParquetCorpus` (a
    ``ShardedCorpus``, for ``fit_shards``, ``fit_ray``, ``fit_by_id``), opened with
    ``ShardedCorpus.from_parquet``.

    Opening reads each file's footer and checks the columns, their types, the dimension
    and that no file is empty, naming the file; then one pass over the ids refuses null and
    duplicate ids. Ragged or null vectors and NaN/inf rows are found as they are read,
    named by file and row (the row within that file).
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        id_column: str = "id",
        vector_column: str = "vector",
        *,
        dim: int | None = None,
        batch_rows: int = BATCH_ROWS,
        check_ids: bool = True,
    ) -> None:
        pa = import_pyarrow()
        files = parquet_files(source)
        if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
            self.folder = Path(source)
        else:
            self.folder = Path(os.path.commonpath([str(p.resolve().parent) for p in files]))
        self.id_column, self.vector_column = id_column, vector_column
        self.batch_rows = int(batch_rows)
        if self.batch_rows < 1:
            raise ShardError("batch_rows must be at least 1")
        self._meta: list[Any] = []
        shards: list[Shard] = []
        first, first_dim = 0, None if dim is None else (int(dim), f"dim={int(dim)} was asked")
        for path in files:
            meta, file_dim = self._check_file(pa, path)
            if first_dim is None:
                first_dim = (file_dim, f"{path} holds dimension {file_dim}")
            elif file_dim != first_dim[0]:
                raise ShardError(
                    f"parquet file {path} holds dimension {file_dim} vectors, but "
                    f"{first_dim[1]}: every file must come from the same embedding model"
                )
            groups = tuple(meta.row_group(g).num_rows for g in range(meta.num_row_groups))
            name = (
                path.relative_to(self.folder).as_posix()
                if path.is_relative_to(self.folder)
                else str(path)
            )
            shards.append(ParquetShard(name, meta.num_rows, first, str(path), groups))
            self._meta.append(meta)
            first += meta.num_rows
        assert first_dim is not None  # at least one file
        self.dim = first_dim[0]
        self.shards = shards
        self.count = first
        self.firsts = np.asarray([s.first for s in shards], dtype=np.int64)
        self.manifest = {"format": "parquet", "dim": self.dim, "count": self.count}
        self.rows_read = 0
        self.rows_scanned = 0
        if check_ids:
            self._check_unique_ids()

    def __repr__(self) -> str:
        size = f"{self.count} x {self.dim}, {len(self.shards)} parquet files"
        return f"{type(self).__name__}({str(self.folder)!r}, {size})"

    def opener(self: Reader) -> ParquetOpener[Reader]:
        """See :meth:`ShardSet.opener`."""
        return ParquetOpener(
            type(self),
            tuple(str(Path(self._shard(i).path).resolve()) for i in range(len(self.shards))),
            self.id_column,
            self.vector_column,
            self.dim,
            self.batch_rows,
            tuple(s.rows for s in self.shards),
        )

    # ---------------------------------------------------------------- validation
    def _check_file(self, pa: Any, path: Path) -> tuple[Any, int]:
        """Footer checks of one file: ``(its metadata, its vectors' dimension)``."""
        try:
            with pa.parquet.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False) as pf:
                meta, schema = pf.metadata, pf.schema_arrow
                if meta.num_rows == 0:
                    raise ShardError(f"parquet file {path} holds no rows")
                for col in (self.id_column, self.vector_column):
                    if col not in schema.names:
                        raise ShardError(
                            f"parquet file {path} has no column {col!r} (its columns: "
                            f"{', '.join(schema.names)}); pass id_column= and vector_column="
                        )
                _id_type(pa, schema.field(self.id_column).type, path, self.id_column)
                vtype = schema.field(self.vector_column).type
                kinds = (pa.types.is_fixed_size_list, pa.types.is_list, pa.types.is_large_list)
                if not (any(k(vtype) for k in kinds) and pa.types.is_floating(vtype.value_type)):
                    raise ShardError(
                        f"parquet file {path}: column {self.vector_column!r} is {vtype}; "
                        "vectors must be a fixed-size list (or list) of float32/float64"
                    )
                if pa.types.is_fixed_size_list(vtype):
                    return meta, int(vtype.list_size)
                batch = next(pf.iter_batches(batch_size=1, columns=[self.vector_column]))
                col = batch.column(0)
                if col.null_count:
                    raise ShardError(f"parquet file {path}: row 0 has no vector (null)")
                return meta, len(col[0])
        except (OSError, pa.ArrowException) as err:
            raise ShardError(f"parquet file {path} cannot be read as parquet: {err}") from err

    def _check_unique_ids(self) -> None:
        """Refuse duplicate ids: the hashes of every id (in ``HASHES_PER_PASS`` slices),
        sorted; equal hashes are compared as ids."""
        passes = max(1, -(-self.count // HASHES_PER_PASS))
        for p in range(passes):
            hashes, rows = [], []
            for first, _, h in self._id_batches():
                keep = np.flatnonzero(h % np.uint64(passes) == p)
                hashes.append(h[keep])
                rows.append(first + keep)
            hs, rs = np.concatenate(hashes), np.concatenate(rows)
            order = np.argsort(hs, kind="stable")
            sh = hs[order]
            for value in np.unique(sh[1:][sh[1:] == sh[:-1]]):
                same = rs[order[np.searchsorted(sh, value) : np.searchsorted(sh, value, "right")]]
                names = self.ids_at(same)
                seen: dict[str, int] = {}
                for row, name in zip(same.tolist(), names, strict=True):
                    if name in seen:
                        raise DuplicateIdError(
                            f"id {name!r} appears twice: {self._where(seen[name])} and "
                            f"{self._where(row)}; ids must be unique"
                        )
                    seen[name] = row

    def _where(self, row: int) -> str:
        """A global row as ``parquet file PATH row LOCAL``."""
        shard = self._shard(int(self.shard_of(np.asarray([row]))[0]))
        return f"parquet file {shard.path} row {row - shard.first}"

    # ------------------------------------------------------------------ reading
    def _shard(self, si: int) -> ParquetShard:
        shard = self.shards[si]
        assert isinstance(shard, ParquetShard)
        return shard

    def _batches(self, si: int, column: str, start: int, stop: int) -> Iterator[tuple[int, Any]]:
        """``(local first row, arrow array)`` of rows ``start:stop`` of shard ``si``, read
        in batches of at most ``batch_rows`` from the row groups that hold them."""
        pa, shard = import_pyarrow(), self._shard(si)
        bounds = np.concatenate([[0], np.cumsum(shard.groups, dtype=np.int64)])
        lo = int(np.searchsorted(bounds, start, "right")) - 1
        hi = int(np.searchsorted(bounds, stop, "left"))
        if stop <= start or lo >= hi:
            return
        pos = int(bounds[lo])
        try:
            with pa.parquet.ParquetFile(
                shard.path, metadata=self._meta[si], buffer_size=READ_BUFFER, pre_buffer=False
            ) as pf:
                for batch in pf.iter_batches(
                    batch_size=self.batch_rows, row_groups=list(range(lo, hi)), columns=[column]
                ):
                    a, b = max(pos, start), min(pos + batch.num_rows, stop)
                    if b > a:
                        yield a, batch.column(0).slice(a - pos, b - a)
                    pos += batch.num_rows
                    if pos >= stop:
                        break
        except (OSError, pa.ArrowException) as err:
            raise ShardError(f"parquet file {shard.path} cannot be read: {err}") from err

    def _matrix(self, si: int, col: Any, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """A vector column slice as ``(len, dim)`` float32 (no copy for float32 values);
        a null or ragged row raises, named by file and ``rows`` (its rows in the file)."""
        pa, path = import_pyarrow(), self._shard(si).path
        if col.null_count:
            row = rows[int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])]
            raise ShardError(f"parquet file {path}: row {row} has no vector (null)")
        if not pa.types.is_fixed_size_list(col.type):
            lengths = pa.compute.list_value_length(col).to_numpy()
            bad = np.flatnonzero(lengths != self.dim)
            if len(bad):
                raise ShardError(
                    f"parquet file {path}: row {rows[bad[0]]} holds {int(lengths[bad[0]])} "
                    f"values, but the vectors have dimension {self.dim} (ragged list column)"
                )
        values = col.flatten()
        if values.null_count:
            at = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
            raise ShardError(f"parquet file {path}: row {rows[at // self.dim]} holds a null")
        flat = values.to_numpy(zero_copy_only=pa.types.is_float32(values.type))
        out: NDArray[np.float32] = flat.astype(np.float32, copy=False).reshape(len(col), self.dim)
        return out

    def _ids_of(self, si: int, col: Any, rows: NDArray[np.int64]) -> NDArray[np.bytes_]:
        """An id column slice as fixed-width UTF-8 bytes (as :func:`encode_ids`); a null
        id raises, named by file and ``rows`` (its rows in the file)."""
        pa, path = import_pyarrow(), self._shard(si).path
        if col.null_count:
            row = rows[int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])]
            raise ShardError(f"parquet file {path}: row {row} has no id (null)")
        arrow_ids = _as_large_string(pa, col)
        n = len(arrow_ids)
        offsets = np.frombuffer(arrow_ids.buffers()[1], np.int64, n + 1, arrow_ids.offset * 8)
        data_buf = arrow_ids.buffers()[2]
        data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        data = data[offsets[0] : offsets[-1]]
        if (data == 0).any():
            raise ShardError(f"parquet file {path}: an id contains a NUL character")
        lengths = np.diff(offsets)
        width = max(1, int(lengths.max(initial=0)))
        out = np.zeros((n, width), np.uint8)
        starts = np.repeat(offsets[:-1] - offsets[0], lengths)
        out[np.repeat(np.arange(n), lengths), np.arange(len(data)) - starts] = data
        ids: NDArray[np.bytes_] = out.view(f"S{width}").ravel()
        return ids

    def _id_batches(self) -> Iterator[tuple[int, NDArray[np.bytes_], NDArray[np.uint64]]]:
        """``(global first row, encoded ids, their hashes)`` over the corpus, batch by batch."""
        for si, shard in enumerate(self.shards):
            for a, col in self._batches(si, self.id_column, 0, shard.rows):
                enc = self._ids_of(si, col, np.arange(a, a + len(col)))
                yield shard.first + a, enc, hash_ids(enc)

    # ------------------------------------------------------------------- access
    def vectors(self, shard: int) -> NDArray[np.float32]:
        """Not available: a parquet file is read in batches (:meth:`rows`, the scans)."""
        raise ShardError(
            f"parquet file {self._shard(shard).path} is read in batches, not mapped whole: "
            "use rows() or the scans"
        )

    def locate_encoded(
        self, enc: NDArray[np.bytes_], hashes: NDArray[np.uint64]
    ) -> NDArray[np.int64]:
        """Global rows of encoded ids (``-1`` where absent): one streamed pass over the id
        column, stopping once every id is found."""
        out = np.full(len(enc), -1, dtype=np.int64)
        if not len(enc):
            return out
        order = np.argsort(hashes, kind="stable")
        wanted = hashes[order]
        for first, got, h in self._id_batches():
            lo = np.searchsorted(wanted, h, "left")
            hi = np.searchsorted(wanted, h, "right")
            for j in np.flatnonzero(hi > lo).tolist():
                for p in range(int(lo[j]), int(hi[j])):
                    i = int(order[p])
                    if out[i] < 0 and enc[i] == got[j]:
                        out[i] = first + j
            if (out >= 0).all():
                break
        return out

    def _picked(
        self, rows: NDArray[np.int64], column: str
    ) -> Iterator[tuple[int, NDArray[np.int64], NDArray[np.int64], Any]]:
        """For each batch holding some of the global ``rows``: ``(shard, positions in
        rows, local rows, the picked arrow values)``, reading only their row groups."""
        where = self.shard_of(rows)
        for si in np.unique(where).tolist():
            shard = self._shard(si)
            pick = np.flatnonzero(where == si)
            local = rows[pick] - shard.first
            bounds = np.concatenate([[0], np.cumsum(shard.groups, dtype=np.int64)])
            group = np.searchsorted(bounds, local, "right") - 1
            for g in np.unique(group).tolist():
                for a, col in self._batches(si, column, int(bounds[g]), int(bounds[g + 1])):
                    inside = np.flatnonzero((local >= a) & (local < a + len(col)))
                    if len(inside):
                        take = local[inside] - a
                        yield si, pick[inside], local[inside], col.take(take)

    def rows(self, rows: Sequence[int] | NDArray[np.int64]) -> NDArray[np.float32]:
        """Vectors of global ``rows``, reading only the row groups that hold them."""
        r = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(r), self.dim), dtype=np.float32)
        for si, pos, local, col in self._picked(r, self.vector_column):
            out[pos] = self._matrix(si, col, local)
        self.rows_read += len(r)
        return out

    def ids_at(self, rows: Sequence[int] | NDArray[np.int64]) -> list[str]:
        """String ids of global ``rows``."""
        r = np.asarray(rows, dtype=np.int64)
        out: list[str] = [""] * len(r)
        for si, pos, local, col in self._picked(r, self.id_column):
            enc = self._ids_of(si, col, local)
            for j, key in zip(pos.tolist(), enc.tolist(), strict=True):
                out[j] = key.decode("utf-8")
        return out

    def blocks(self, rows_per_block: int | None = None) -> list[tuple[int, int, int]]:
        """``(shard, start, stop)`` ranges of whole row groups, each at most
        ``rows_per_block`` rows unless one row group is larger (then it is split)."""
        out: list[tuple[int, int, int]] = []
        for si, shard in enumerate(self.shards):
            step = rows_per_block or max(1, shard.rows)
            pos, start = 0, 0
            for size in self._shard(si).groups:
                if pos > start and pos + size - start > step:
                    out.append((si, start, pos))
                    start = pos
                pos += size
                while pos - start > step:
                    out.append((si, start, start + step))
                    start += step
            if pos > start:
                out.append((si, start, pos))
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
        """Top-``k`` (cosine) of rows ``start:stop`` of one file, global rows, skipping
        the sorted global ``exclude_rows``; one batch in memory at a time."""
        info = self._shard(shard)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        best = merge_topk([], k, len(q))
        for a, col in self._batches(shard, self.vector_column, start, stop):
            vec = self._matrix(shard, col, np.arange(a, a + len(col)))
            mask = window_mask(exclude_rows, info.first + a, len(vec))
            s, i = scan_chunks(
                q,
                vec,
                k,
                normalize=True,
                exclude=mask,
                chunk_size=chunk_size,
                row_offset=a,  # file rows, so a bad row is named as the user sees it
                name=f"parquet file {info.path}",
                allow_zero=False,
            )
            best = merge_topk([best, (s, np.where(i >= 0, i + info.first, -1))], k, len(q))
        self.rows_scanned += stop - start
        return best


def _id_type(pa: Any, kind: Any, path: Path, column: str) -> None:
    """Refuse an id column that is neither strings nor integers."""
    view = getattr(pa.types, "is_string_view", lambda _: False)
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or view(kind)
        or pa.types.is_integer(kind)
    ):
        raise ShardError(
            f"parquet file {path}: id column {column!r} is {kind}; ids must be strings or integers"
        )


def _as_large_string(pa: Any, col: Any) -> Any:
    """An id array as ``large_string`` (integers in decimal, as ``str(i)``)."""
    if pa.types.is_large_string(col.type):
        return col
    return pa.compute.cast(col, pa.large_string())
