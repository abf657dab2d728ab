"""What a vector store can do for NUDGE, declared: the writer protocol, the optional
abilities a store may add, and the limits every read and write is cut to.

Framework-free: a writer wraps a store's native client (a FAISS index, a Chroma
collection, a Milvus or Qdrant client, a dict of vectors), so both adapters share it.
Writers derive from :class:`BatchedWriter`, which splits every read and write into
requests the store accepts (:class:`Limits`); the store implements one request of each.
Every swap goes through the nudge ledger (``lifecycle``), which writes in batches of at
most ``limits.write`` records and rolls back on failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import MetricMismatchError, NudgeError

#: Records written per request (and per ledgered batch) unless a store says otherwise.
BATCH = 512

#: Ids read per request unless a store says otherwise.
READ = 4096

#: Metadata key of the marker on nudged records: the path of their nudge ledger.
MARKER = "nudge_ledger"

#: (kind, place, collection): kind "path" for a store on a local path, else the kind of
#: server (``"chroma"``, ``"milvus"``, ...) and its address.
Location = tuple[str, str, str]

Vectors = dict[str, NDArray[np.float32]]
T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """The most one request to a store may carry. ``read``: ids per read (vectors, text,
    metadata, markers); ``write``: records per write (vectors or markers). A store
    declares its own (read from the store where it says, e.g. Chroma's max batch size);
    :meth:`capped` lowers them (a user's ``batch_size``, a test forcing tiny requests)."""

    read: int = READ
    write: int = BATCH

    def __post_init__(self) -> None:
        if self.read < 1 or self.write < 1:
            raise NudgeError(
                f"store limits must be positive, got read={self.read}, write={self.write}"
            )

    def capped(self, batch_size: int | None) -> Limits:
        """These limits, with writes (and reads) no larger than ``batch_size``."""
        if batch_size is None:
            return self
        if batch_size < 1:
            raise NudgeError(f"batch_size must be a positive number of records, got {batch_size}")
        return Limits(read=min(self.read, batch_size), write=min(self.write, batch_size))


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    for start in range(0, len(items), max(1, size)):
        yield list(items[start : start + size])


@runtime_checkable
class StoreWriter(Protocol):
    """Read and overwrite vectors by id in one vector store, leaving text and metadata."""

    #: ``"dot"``, ``"cosine"``, ``"l2"``, or None when the store's metric is unknown.
    similarity: str | None
    #: The most one request to the store may carry.
    limits: Limits

    def all_ids(self) -> list[str]:
        """Every id in the store."""
        ...

    def read(self, ids: Sequence[str]) -> Vectors:
        """Current vectors of the ids the store holds (absent ids are left out)."""
        ...

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        """Overwrite the vectors of existing ids."""
        ...


@runtime_checkable
class KeepsMarkers(Protocol):
    """A store that keeps metadata, so nudged records carry their ledger's path."""

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        """Ledger paths recorded on the records, by id (unmarked ids left out)."""
        ...

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        """Set (or, with None, remove) the marker of existing ids."""
        ...


@runtime_checkable
class WritesMarked(Protocol):
    """A store that keeps markers and writes a batch's vectors and marker changes
    together (in one request per record where the store takes both at once)."""

    def write_marked(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        """Overwrite ``vectors`` and set ``marks`` (None: removed), each record marked no
        later than its nudged vector lands and unmarked no earlier than its base does."""
        ...


@runtime_checkable
class Located(Protocol):
    """A store with an identity a new process can find again (a path or a server)."""

    def location(self) -> Location | None:
        """Where the store is, or None when this instance has no stable identity."""
        ...


class BatchedWriter:
    """Base of every writer: the public reads and writes split into requests within
    ``limits``; a store implements one request each (``_read``, ``_write`` and, when it
    keeps markers, ``_read_markers`` / ``_write_markers``, and ``_write_together`` where
    it takes a vector and its marker in one request)."""

    similarity: str | None = None
    limits: Limits = Limits()

    def all_ids(self) -> list[str]:
        raise NotImplementedError

    def _read(self, ids: list[str]) -> Mapping[str, NDArray[np.float32]]:
        raise NotImplementedError

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        raise NotImplementedError

    def read(self, ids: Sequence[str]) -> Vectors:
        out: Vectors = {}
        for chunk in batches(list(ids), self.limits.read):
            got = self._read(chunk)
            out.update({str(k): np.asarray(v, dtype=np.float32) for k, v in got.items()})
        return out

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        keys = list(vectors)
        for chunk in batches(keys, self.limits.write):
            self._write({i: vectors[i] for i in chunk})


class MarkedWriter(BatchedWriter):
    """A :class:`BatchedWriter` whose store keeps a marker in each record's metadata.

    A batch's records that change both vector and marker go in one combined request per
    batch (:meth:`_write_together`) where :attr:`writes_together` says this writer can;
    the rest go apart: markers set, then vectors, then markers removed."""

    #: Whether this writer sends a record's vector and its marker change in one request
    #: (:meth:`_write_together`). A store that can only in some configurations sets it
    #: per instance (Qdrant: local mode, one vector a point).
    writes_together: bool = False

    def _read_markers(self, ids: list[str]) -> Mapping[str, str]:
        raise NotImplementedError

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        raise NotImplementedError

    def _write_together(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        """One request: each id's vector and its marker (None: removed) written together,
        so no record holds one without the other (``vectors`` and ``marks``: the same ids)."""
        raise NotImplementedError

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in batches(list(ids), self.limits.read):
            out.update({str(k): str(v) for k, v in self._read_markers(chunk).items()})
        return out

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        for chunk in batches(list(ids), self.limits.write):
            self._write_markers(chunk, value)

    def write_marked(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        keys = list(dict.fromkeys([*vectors, *marks]))
        for chunk in batches(keys, self.limits.write):
            self._write_marked(
                {i: vectors[i] for i in chunk if i in vectors},
                {i: marks[i] for i in chunk if i in marks},
            )

    def _write_marked(
        self, vectors: Mapping[str, NDArray[np.float32]], marks: Mapping[str, str | None]
    ) -> None:
        """One batch within the limits. Records with a vector and a marker change go in
        one combined request where this writer writes together (each lands with its
        marker); the rest in up to three kinds of request: markers set, then the vectors,
        then markers removed. Either way a record is marked no later than its nudged
        vector lands and unmarked no earlier than its base does."""
        if self.writes_together:
            both = [i for i in vectors if i in marks]
            if both:
                self._write_together({i: vectors[i] for i in both}, {i: marks[i] for i in both})
                vectors, marks = (
                    {i: v for i, v in vectors.items() if i not in marks},
                    {i: m for i, m in marks.items() if i not in vectors},
                )
        by_value: dict[str, list[str]] = {}
        for i, value in marks.items():
            if value is not None:
                by_value.setdefault(value, []).append(i)
        for value, ids in by_value.items():
            self._write_markers(ids, value)
        if vectors:
            self._write(dict(vectors))
        removed = [i for i, value in marks.items() if value is None]
        if removed:
            self._write_markers(removed, None)


def read_batched(
    read: Callable[[list[str]], Mapping[str, T]], ids: Sequence[str], size: int
) -> dict[str, T]:
    """``read`` (one request: id -> value, absent ids left out) over ``ids`` in requests
    of at most ``size`` ids, e.g. a framework binding's text reader."""
    out: dict[str, T] = {}
    for chunk in batches(list(ids), size):
        out.update(read(chunk))
    return out


def require_inner_product(
    similarity: str | None,
    store_name: str,
    advice: str | None = None,
    *,
    note: str | None = None,
) -> None:
    """Refuse to serve NUDGE-M vectors from a store that does not rank by inner product;
    ``advice`` replaces the default what-to-do-instead (e.g. for a store-native fit, which
    no in-memory retriever can serve); ``note`` (a binding's ``metric_note``) says first
    why the store's metric is unknown and how to set it."""
    if similarity != "dot":
        instead = advice or (
            "Use an exact inner-product retriever (as_retriever()), a store configured for "
            "inner product (FAISS IndexFlatIP / MAX_INNER_PRODUCT, Milvus metric 'IP', Chroma "
            "hnsw:space 'ip', Qdrant Distance.DOT), or NUDGE-N, whose vectors are unit-norm"
        )
        if note:
            instead = f"{note}; or else {instead[:1].lower()}{instead[1:]}"
        raise MetricMismatchError(
            f"NUDGE-M vectors are not unit-norm and must be ranked by inner product, but "
            f"{store_name} ranks by {similarity or 'an unknown metric'}, which would silently "
            f"mis-rank them. {instead}"
        )
