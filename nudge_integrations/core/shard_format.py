"""What a shard folder is on disk, shared by its readers and writers: the lowest shard module.

Holds the error, the manifest of a ``.npy`` shard folder, id encoding and hashing, the
listing of a parquet corpus's files (honouring an unfinished append's journal) and the
pyarrow import; it imports nothing from the package but :mod:`nudge_integrations.core.errors`,
so the reading (:mod:`~nudge_integrations.core.shard_set`,
:mod:`~nudge_integrations.core.parquet_shards`, :mod:`~nudge_integrations.core.shard_corpus`)
and writing (:mod:`~nudge_integrations.core.shard_writer`) modules stack on it without cycles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError

FORMAT = "nudge-shards"
VERSION = 1
MANIFEST = "manifest.json"
#: Rows per shard file written by default (1.5 GB of float32 at d = 384).
ROWS_PER_SHARD = 1_000_000
#: The files of one ``.npy`` shard, by suffix: vectors, ids, sorted id hashes, their rows.
SHARD_FILES = (".npy", ".ids.npy", ".keys.npy", ".order.npy")

#: Suffix of a parquet part being written (hidden, and not ``*.parquet``: readers skip it).
STAGED_SUFFIX = ".tmp"
#: The journal of an append being renamed into place: readers skip the parts it names.
APPEND_JOURNAL = ".parquet-append.json"

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


class ShardError(NudgeError):
    """A shard folder or one of its shards is missing, malformed or inconsistent."""


# ----------------------------------------------------------------------------- ids
def encode_ids(ids: Iterable[Any]) -> NDArray[np.bytes_]:
    """Ids as a fixed-width UTF-8 byte array (ids are compared as strings)."""
    raw = [str(i).encode("utf-8") for i in ids]
    if any(b"\x00" in r for r in raw):
        raise ShardError("ids must not contain NUL characters")
    if not raw:
        return np.zeros(0, dtype="S1")
    return np.array(raw, dtype=f"S{max(1, max(len(r) for r in raw))}")


def hash_ids(ids: NDArray[np.bytes_]) -> NDArray[np.uint64]:
    """64-bit FNV-1a of each id's bytes, vectorised over the array (width-independent)."""
    arr = np.ascontiguousarray(ids)
    width = arr.dtype.itemsize
    b = arr.view(np.uint8).reshape(len(arr), width)
    h = np.full(len(arr), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            col = b[:, j]
            live = col != 0  # fixed-width padding is NUL; ids hold none
            h = np.where(live, (h ^ col.astype(np.uint64)) * _FNV_PRIME, h)
    return h


# ------------------------------------------------------------------ .npy manifest
def read_manifest(folder: Path) -> dict[str, Any]:
    """The checked manifest of a ``.npy`` shard folder (a hint when it holds parquet)."""
    path = folder / MANIFEST
    if not path.exists():
        hint = ""
        if folder.is_dir() and any(folder.rglob("*.parquet")):
            hint = (
                "; it holds parquet files: open them with ShardedCorpus.from_parquet(folder, "
                "id_column=..., vector_column=...)"
            )
        raise ShardError(f"{folder} is not a shard folder: it has no {MANIFEST}{hint}")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ShardError(f"{path} is not readable JSON: {err}") from err
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ShardError(
            f"{path} is not a {FORMAT} version {VERSION} manifest "
            f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})"
        )
    if manifest.get("dtype") != "float32":
        raise ShardError(f"{path} says dtype {manifest.get('dtype')!r}; only float32 is read")
    return manifest


# ------------------------------------------------------------------------ parquet
def import_pyarrow() -> Any:
    """pyarrow with its parquet and compute modules, or an error saying how to get it."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise NudgeError(
            "parquet shards need pyarrow: pip install 'nudge-integrations[parquet]'"
        ) from err
    return pyarrow


def journaled_parts(folder: Path) -> set[str]:
    """Names of the parts an unfinished append's journal lists in ``folder`` (none: empty)."""
    try:
        parts = json.loads((folder / APPEND_JOURNAL).read_text())["parts"]
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ShardError(f"{folder / APPEND_JOURNAL} cannot be read: {err}") from err
    return {str(p) for p in parts}


def parquet_files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The parquet files of ``source``: a file, a list of files, or a folder (searched
    recursively, in path order, skipping names that start with ``.`` or ``_``, and the
    parts an unfinished ``write_shards(..., format="parquet")`` append is renaming)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*.parquet")
                if p.is_file()
                and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
            )
            # listed first, then the journal: an append committed in between is seen whole
            pending = journaled_parts(path)
            found = [p for p in found if p.relative_to(path).as_posix() not in pending]
            if not found:
                raise ShardError(f"{path} holds no .parquet files")
            return found
        paths = [path]
    else:
        paths = [Path(p) for p in source]
        if not paths:
            raise ShardError("no parquet files were given")
    for p in paths:
        if not p.is_file():
            raise ShardError(f"parquet file {p} does not exist")
    return paths
