"""Writing a shard folder: float32 ``.npy`` shards with their ids, an id index, a manifest.

The layout is described in :mod:`nudge_integrations.core.shard_corpus`, which reads it;
``format="parquet"`` writes parquet parts instead, read as a
:class:`~nudge_integrations.core.shard_corpus.ParquetCorpus`. Writing into an existing
folder adds new shards; ids must stay unique.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import DuplicateIdError, ShapeError
from nudge_integrations.core.search import unit_rows
from nudge_integrations.core.shard_corpus import ParquetCorpus, ShardedCorpus
from nudge_integrations.core.shard_format import (
    APPEND_JOURNAL,
    FORMAT,
    MANIFEST,
    ROWS_PER_SHARD,
    SHARD_FILES,
    STAGED_SUFFIX,
    VERSION,
    ShardError,
    encode_ids,
    hash_ids,
    import_pyarrow,
    journaled_parts,
    parquet_files,
    read_manifest,
)
from nudge_integrations.core.validation import check_finite_nonzero

__all__ = [
    "ROW_GROUP_ROWS",
    "ShardWriter",
    "parquet_rows",
    "recover_parquet_append",
    "write_parquet_shards",
    "write_shards",
]

_HEADER_BYTES = 128  # fixed .npy header size, so a shard's shape can be written last
#: Rows per row group written by ``write_shards(..., format="parquet")``.
ROW_GROUP_ROWS = 65_536


# -------------------------------------------------------------------------- writing
def _npy_header(rows: int, dim: int) -> bytes:
    """A version-1 .npy header for ``(rows, dim)`` float32, padded to a fixed size."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    body = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")


class ShardWriter:
    """Streams vectors and ids into a shard folder, one shard file per ``rows_per_shard``.

    Each block is checked (dimension, finite, non-zero) before it is written, so a folder
    this writer produced never holds a row the fit would refuse.
    """

    def __init__(
        self, folder: str | os.PathLike[str], dim: int, *, rows_per_shard: int = ROWS_PER_SHARD
    ) -> None:
        self.folder = Path(folder)
        self._made_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dim = int(dim)
        self.rows_per_shard = int(rows_per_shard)
        if self.rows_per_shard < 1:
            raise ShardError("rows_per_shard must be at least 1")
        path = self.folder / MANIFEST
        if path.exists():
            self.manifest = read_manifest(self.folder)
            if self.manifest["dim"] != self.dim:
                raise ShardError(
                    f"{self.folder} holds dimension {self.manifest['dim']} vectors; "
                    f"cannot add dimension {self.dim}"
                )
            self.existing: ShardedCorpus | None = ShardedCorpus(self.folder)
        else:
            self.manifest = {
                "format": FORMAT,
                "version": VERSION,
                "dim": self.dim,
                "dtype": "float32",
                "count": 0,
                "shards": [],
            }
            self.existing = None
        self._fh: Any = None
        self._rows = 0
        self._ids: list[NDArray[np.bytes_]] = []
        self._hashes: list[NDArray[np.uint64]] = []
        self._seen: list[NDArray[np.uint64]] = []  # hashes written by this writer

    def add(self, vectors: Any, ids: Sequence[Any] | NDArray[Any]) -> None:
        """Append a block of vectors ``(rows, dim)`` with one id per row."""
        vec = np.asarray(vectors, dtype=np.float32)
        if vec.ndim != 2 or vec.shape[1] != self.dim:
            raise ShapeError(f"vectors must be (rows, {self.dim}), got shape {vec.shape}")
        enc = ids if isinstance(ids, np.ndarray) and ids.dtype.kind == "S" else encode_ids(ids)
        if len(enc) != len(vec):
            raise ShapeError(f"{len(vec)} vectors but {len(enc)} ids")
        sq = np.einsum("ij,ij->i", vec, vec)
        if not (np.isfinite(sq).all() and (sq > 0).all()):
            check_finite_nonzero(vec, "vectors")
        hashes = hash_ids(enc)
        self._check_new(enc, hashes)
        start = 0
        while start < len(vec):
            if self._fh is None:
                self._open()
            take = min(len(vec) - start, self.rows_per_shard - self._rows)
            self._fh.write(np.ascontiguousarray(vec[start : start + take]).tobytes())
            self._ids.append(enc[start : start + take])
            self._hashes.append(hashes[start : start + take])
            self._rows += take
            start += take
            if self._rows == self.rows_per_shard:
                self._close_shard()

    def close(self) -> ShardedCorpus:
        """Finish the last shard, write the manifest, and open the folder for reading."""
        if self._fh is not None:
            self._close_shard()
        self._check_unique()
        tmp = self.folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1))
        tmp.replace(self.folder / MANIFEST)
        return ShardedCorpus(self.folder)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Remove every shard file this writer wrote (the manifest is untouched until
        :meth:`close`), and the folder if this writer made it: nothing is left half-added."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for n in range(self._first_new_shard(), len(self.manifest["shards"]) + 1):
            for suffix in SHARD_FILES:
                (self.folder / f"shard-{n:05d}{suffix}").unlink(missing_ok=True)
        if self._made_folder and not any(self.folder.iterdir()):
            self.folder.rmdir()

    # ------------------------------------------------------------------ internals
    def _check_new(self, enc: NDArray[np.bytes_], hashes: NDArray[np.uint64]) -> None:
        """Refuse ids the folder already holds (duplicates among new ids: at close)."""
        if self.existing is not None and self.existing.count:
            rows = self.existing.locate_encoded(enc, hashes)
            if (rows >= 0).any():
                i = int(np.flatnonzero(rows >= 0)[0])
                raise DuplicateIdError(
                    f"id {enc[i].decode()!r} is already in {self.folder} (row {rows[i]})"
                )
        self._seen.append(hashes)

    def _check_unique(self) -> None:
        """One sort of every new id's hash; equal hashes are compared as ids."""
        if not self._seen:
            return
        hashes = np.concatenate(self._seen)
        order = np.argsort(hashes, kind="stable")
        sh = hashes[order]
        same = np.flatnonzero(sh[1:] == sh[:-1])
        if not len(same):
            return
        new = self.manifest["shards"][self._first_new_shard() :]
        ids = np.concatenate(
            [np.load(self.folder / f"{i['name']}.ids.npy", mmap_mode="r") for i in new]
        )
        for j in same:
            if ids[order[j]] == ids[order[j + 1]]:
                for info in new:  # leave the folder as it was
                    for suffix in SHARD_FILES:
                        (self.folder / f"{info['name']}{suffix}").unlink(missing_ok=True)
                raise DuplicateIdError(
                    f"id {ids[order[j]].decode()!r} appears twice in the ids written; "
                    "nothing was added"
                )

    def _first_new_shard(self) -> int:
        return len(self.existing.shards) if self.existing is not None else 0

    def _open(self) -> None:
        name = f"shard-{len(self.manifest['shards']):05d}"
        self._name = name
        self._fh = open(self.folder / f"{name}.npy", "wb")  # noqa: SIM115 (closed per shard)
        self._fh.write(_npy_header(0, self.dim))
        self._rows = 0
        self._ids, self._hashes = [], []

    def _close_shard(self) -> None:
        self._fh.seek(0)
        self._fh.write(_npy_header(self._rows, self.dim))
        self._fh.close()
        self._fh = None
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, "S1")
        width = max(1, max((len(i) for i in ids), default=1))
        ids = ids.astype(f"S{width}")
        hashes = np.concatenate(self._hashes)
        order = np.argsort(hashes, kind="stable")
        np.save(self.folder / f"{self._name}.ids.npy", ids)
        np.save(self.folder / f"{self._name}.keys.npy", hashes[order])
        np.save(self.folder / f"{self._name}.order.npy", order.astype(np.int64))
        self.manifest["shards"].append({"name": self._name, "rows": self._rows})
        self.manifest["count"] = int(self.manifest["count"]) + self._rows
        self._ids, self._hashes, self._rows = [], [], 0


def write_shards(
    vectors: Any,
    ids: Sequence[Any] | NDArray[Any] | None,
    folder: str | os.PathLike[str],
    *,
    rows_per_shard: int = ROWS_PER_SHARD,
    block_rows: int = 65536,
    format: Literal["npy", "parquet"] = "npy",
) -> ShardedCorpus:
    """Write ``vectors`` (an array, memmap, or an iterable of ``(rows, d)`` blocks) with
    their ``ids`` (one per row; ``None``: the row numbers as strings) into ``folder``.

    Into a folder that already holds shards, the new records are appended as new shards
    (their ids must be new). Returns the folder opened as a :class:`ShardedCorpus`.
    ``format="parquet"`` writes ``part-NNNNN.parquet`` files (``id``, ``vector``
    columns) instead of ``.npy`` shards, opened as with ``ShardedCorpus.from_parquet``.
    """
    if format not in ("npy", "parquet"):
        raise ShardError(f"unknown shard format {format!r}: use 'npy' or 'parquet'")
    if hasattr(vectors, "shape") and len(getattr(vectors, "shape", ())) == 2:
        arr = vectors
        blocks: Iterable[Any] = (arr[s : s + block_rows] for s in range(0, len(arr), block_rows))
        dim = int(arr.shape[1])
    else:
        it = iter(vectors)
        first = np.asarray(next(it), dtype=np.float32)
        if first.ndim != 2:
            raise ShapeError(f"each block of vectors must be 2-D, got shape {first.shape}")
        dim = int(first.shape[1])
        blocks = _chain(first, it)
    if format == "parquet":
        if Path(folder).is_dir() and not (Path(folder) / MANIFEST).exists():
            recover_parquet_append(Path(folder))  # before counting: a killed append's parts go
        pairs = _with_ids(blocks, ids, parquet_rows(folder))
        return write_parquet_shards(pairs, dim, folder, rows_per_shard=rows_per_shard)
    writer = ShardWriter(folder, dim, rows_per_shard=rows_per_shard)
    try:
        for block, keys in _with_ids(blocks, ids, writer.manifest["count"]):
            writer.add(block, keys)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def _with_ids(
    blocks: Iterable[Any], ids: Sequence[Any] | NDArray[Any] | None, offset: int
) -> Iterator[tuple[NDArray[np.float32], Any]]:
    """Each block as float32 with its ids (``None``: row numbers from ``offset``); raises
    :class:`ShapeError` when the ids run out before the vectors or outlast them."""
    done = 0
    for raw in blocks:
        block = np.asarray(raw, dtype=np.float32)
        if ids is None:
            keys: Any = np.arange(offset + done, offset + done + len(block)).astype("S")
        else:
            keys = ids[done : done + len(block)]
            if len(keys) != len(block):
                raise ShapeError(
                    f"fewer ids than vectors: {len(ids)} ids, and row {done + len(keys)} has none"
                )
        yield block, keys
        done += len(block)
    if ids is not None and len(ids) != done:
        raise ShapeError(f"{len(ids)} ids for {done} vectors")


def parquet_rows(folder: str | os.PathLike[str]) -> int:
    """Records in the parquet files already in ``folder`` (0 if none), from their footers."""
    path = Path(folder)
    if not path.is_dir() or not any(path.rglob("*.parquet")):
        return 0
    pa = import_pyarrow()
    return sum(pa.parquet.ParquetFile(p).metadata.num_rows for p in parquet_files(path))


def write_parquet_shards(
    blocks: Iterable[tuple[NDArray[np.float32], Any]],
    dim: int,
    folder: str | os.PathLike[str],
    *,
    rows_per_shard: int,
    row_group_rows: int = ROW_GROUP_ROWS,
) -> ShardedCorpus:
    """Write ``(vectors, ids)`` blocks as ``part-NNNNN.parquet`` files (columns ``id``:
    string, ``vector``: ``FixedSizeList<float32>``) into ``folder``; the writer behind
    ``write_shards(..., format="parquet")``.

    Rows are checked as ``write_shards`` checks them (dimension, finite, non-zero, no NUL
    in ids). The call is all or nothing for :class:`ParquetCorpus` readers, even under
    ``kill -9``: new parts are written as hidden ``.part-NNNNN.parquet.tmp`` files and
    fsynced; only once every part is complete and the ids are checked is a journal
    (:data:`APPEND_JOURNAL`) naming them written, the parts renamed into place, and the
    journal removed (the commit). Readers skip the files a journal names, and the next
    write removes what a killed one left (temporary files, or the parts a journal names).
    On any error (a bad row, a duplicate id) what the call wrote is removed.
    """
    pa = import_pyarrow()
    out = Path(folder)
    made, number = _prepare_parquet_folder(out, rows_per_shard)
    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float32(), dim))])
    parts = _StagedParts(pa, out, schema, dim, rows_per_shard, row_group_rows, number)
    done = 0
    try:
        for block, keys in blocks:
            vec, ids = _checked_rows(block, keys, dim, done)
            parts.write(vec, ids)
            done += len(vec)
        parts.close()
        return _publish_parts(out, parts.staged)
    except BaseException:
        parts.discard()
        if made and not any(out.iterdir()):
            out.rmdir()
        raise


def _prepare_parquet_folder(out: Path, rows_per_shard: int) -> tuple[bool, int]:
    """Check and make ``out``, undo a killed append; whether it was made, the next part number."""
    if (out / MANIFEST).exists():
        raise ShardError(f"{out} is a .npy shard folder; write parquet shards elsewhere")
    if rows_per_shard < 1:
        raise ShardError("rows_per_shard must be at least 1")
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    recover_parquet_append(out)
    taken = [int(p.stem[5:]) for p in out.glob("part-*.parquet") if p.stem[5:].isdigit()]
    return made, max(taken, default=-1) + 1


def _checked_rows(
    block: NDArray[np.float32], keys: Any, dim: int, first: int
) -> tuple[NDArray[np.float32], list[str]]:
    """A block as contiguous float32 and its ids as text, refused as ``write_shards``
    refuses rows (dimension, finite, non-zero, no NUL in ids); ``first``: its first row."""
    vec = np.ascontiguousarray(block, dtype=np.float32)
    if vec.ndim != 2 or vec.shape[1] != dim:
        raise ShapeError(f"vectors must be (rows, {dim}), got shape {vec.shape}")
    sq = np.einsum("ij,ij->i", vec, vec)
    if not (np.isfinite(sq).all() and (sq > 0).all()):
        unit_rows(vec, np.empty_like(vec), name="vectors", first=first, allow_zero=False)
    kind_s = isinstance(keys, np.ndarray) and keys.dtype.kind == "S"
    ids = [i.decode("utf-8") for i in (keys if kind_s else encode_ids(keys)).tolist()]
    if kind_s and any("\x00" in i for i in ids):
        raise ShardError("ids must not contain NUL characters")
    return vec, ids


@dataclass
class _StagedParts:
    """The hidden parts one parquet append writes, a new one every ``rows_per_shard`` rows."""

    pa: Any
    out: Path
    schema: Any
    dim: int
    rows_per_shard: int
    row_group_rows: int
    number: int  # the next part's number
    staged: list[Path] = field(default_factory=list)
    writer: Any = None  # the open part's ParquetWriter
    in_file: int = 0  # rows in the open part

    def write(self, vec: NDArray[np.float32], ids: list[str]) -> None:
        """Append checked rows, opening a part when none is open, closing each full one."""
        pa, start = self.pa, 0
        while start < len(vec):
            if self.writer is None:
                self.staged.append(self.out / f".part-{self.number:05d}.parquet{STAGED_SUFFIX}")
                self.writer = pa.parquet.ParquetWriter(self.staged[-1], self.schema)
                self.number, self.in_file = self.number + 1, 0
            take = min(len(vec) - start, self.rows_per_shard - self.in_file)
            column = pa.FixedSizeListArray.from_arrays(
                pa.array(vec[start : start + take].ravel()), self.dim
            )
            table = pa.table({"id": ids[start : start + take], "vector": column}, self.schema)
            self.writer.write_table(table, row_group_size=self.row_group_rows)
            start, self.in_file = start + take, self.in_file + take
            if self.in_file == self.rows_per_shard:
                self.close()

    def close(self) -> None:
        """Finish the open part, if any."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def discard(self) -> None:
        """Close the open part and remove every part staged, after an error."""
        if self.writer is not None:
            self.writer.close()
        for path in self.staged:
            path.unlink(missing_ok=True)


def _publish_parts(out: Path, staged: list[Path]) -> ParquetCorpus:
    """Fsync the staged parts, check their ids against the folder's, commit them, open it."""
    for path in staged:
        _fsync(path)
    old = parquet_files(out) if any(out.rglob("*.parquet")) else []
    ParquetCorpus([*old, *staged])  # refuses ids already there, or repeated among the new
    finals = [p.with_name(p.name[1 : -len(STAGED_SUFFIX)]) for p in staged]
    _commit_parquet_append(out, staged, finals)
    return ParquetCorpus(out, check_ids=False)  # the files just checked


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit_parquet_append(out: Path, staged: list[Path], finals: list[Path]) -> None:
    """Rename the fsynced ``staged`` parts to ``finals`` under a journal naming them; the
    journal's removal is the commit."""
    journal, tmp = out / APPEND_JOURNAL, out / (APPEND_JOURNAL + STAGED_SUFFIX)
    tmp.write_text(json.dumps({"parts": [p.name for p in finals]}))
    _fsync(tmp)
    os.replace(tmp, journal)
    _fsync(out)
    for src, dst in zip(staged, finals, strict=True):
        os.replace(src, dst)
    _fsync(out)
    journal.unlink()
    _fsync(out)


def recover_parquet_append(folder: Path) -> None:
    """Undo a parquet append killed before its commit: remove its temporary parts and the
    parts its journal names, then the journal."""
    for name in sorted(journaled_parts(folder)):
        (folder / Path(name).name).unlink(missing_ok=True)
    for path in folder.glob(f".part-*.parquet{STAGED_SUFFIX}"):
        path.unlink(missing_ok=True)
    (folder / (APPEND_JOURNAL + STAGED_SUFFIX)).unlink(missing_ok=True)
    if (folder / APPEND_JOURNAL).exists():
        (folder / APPEND_JOURNAL).unlink()
        _fsync(folder)


def _chain(first: Any, rest: Iterable[Any]) -> Iterable[Any]:
    yield first
    yield from rest
