"""Corpora reached by id: a vector store, a folder of shards, a remote engine.

A fit needs only two things from a corpus it cannot hold: the vectors of the records
the queries name (fetched by id), and each validation query's best records outside the
touched set (the corpus's own nearest-neighbour search, over-fetched and widened until
enough untouched ones are found). :class:`SourceCompetitors` turns such a source into
the core's :class:`~nudge_integrations.core.competitors.CompetitorSource`, re-scoring the
candidates exactly, so an exact source gives exactly the in-memory fit's competitors.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from numpy.typing import NDArray

from nudge_integrations.core.errors import NonFiniteError, NudgeError, ZeroVectorError
from nudge_integrations.core.search import scan_chunks

#: The largest search a source is asked for (Milvus caps ``limit`` at 16,384).
MAX_LIMIT = 16384

#: Untouched candidates per query re-scored exactly, beyond the ``k`` needed.
_SPARE = 8


class RecordSource(Protocol):
    """A corpus addressed by id, searched by its own nearest-neighbour index.

    ``read`` returns the stored vectors of the ids it holds (absent ids are left out);
    ``nearest`` returns, per query, up to ``limit`` ids best first by the source's own
    ranking, which must agree with cosine similarity for the fit to be exact (cosine, or
    inner product / L2 over unit-norm vectors). ``exact`` says whether that search is
    exhaustive (a flat index) or approximate (HNSW, IVF, ...).

    The optional abilities are declared by the protocols below: :class:`SearchesOutside`
    (a filter or a mask leaves ids out: used instead of over-fetching and widening
    ``nearest``), :class:`Scans` and :class:`ListsIds` (every record, for an approximate
    source's recall, :func:`exact_outside`), :class:`Counts`. ``exact`` (a source without
    it counts as exact) says whether its search is exhaustive.
    """

    exact: bool

    def read(self, ids: Sequence[str]) -> Mapping[str, NDArray[np.float32]]:
        """Stored vectors of the ids the source holds."""
        ...

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Up to ``limit`` ids per query, best first."""
        ...


@runtime_checkable
class Reads(Protocol):
    """A source that reads stored vectors by id."""

    def read(self, ids: Sequence[str]) -> Mapping[str, NDArray[np.float32]]:
        """Stored vectors of the ids the source holds."""
        ...


@runtime_checkable
class Searches(Protocol):
    """A source searched by its own nearest-neighbour index."""

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Up to ``limit`` ids per query, best first."""
        ...


@runtime_checkable
class SaysExact(Protocol):
    """A source that says whether its search is exhaustive."""

    exact: bool


@runtime_checkable
class SearchesOutside(Protocol):
    """A source that leaves ids out of its own search (one pass, no over-fetching)."""

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Up to ``limit`` ids per query outside ``skip``, best first."""
        ...


@runtime_checkable
class Scans(Protocol):
    """A source that streams every record it holds."""

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, ``batch`` at a time."""
        ...


@runtime_checkable
class SearchesByScan(Protocol):
    """A source whose exact search reads every record for each query (no index serves
    it, e.g. pgvector or LanceDB with the index bypassed): many queries at once are then
    answered faster by one streamed scan (:func:`exact_outside`) than by its search."""

    #: True when each search is a full scan of the records.
    search_scans: bool

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record's id and vector, ``batch`` at a time."""
        ...


#: Queries from which a source whose search is a scan is streamed once instead.
SCAN_SEARCH_FROM = 32


@runtime_checkable
class ListsIds(Protocol):
    """A source that lists every id it holds."""

    def all_ids(self) -> list[str]:
        """Every id."""
        ...


@runtime_checkable
class Counts(Protocol):
    """A source that says how many records it holds."""

    def count(self) -> int:
        """The number of records."""
        ...


def is_exact(source: object) -> bool:
    """Whether a source's own search is exhaustive (one that does not say counts as so)."""
    return bool(source.exact) if isinstance(source, SaysExact) else True


#: Ids read per call to the source.
READ_BATCH = 1024


def read_vectors(
    source: Reads, ids: Sequence[str], batch: int = READ_BATCH
) -> dict[str, NDArray[np.float32]]:
    """The stored vectors of ``ids``, read in batches (absent ids left out)."""
    out: dict[str, NDArray[np.float32]] = {}
    for start in range(0, len(ids), batch):
        got = source.read(list(ids[start : start + batch]))
        out.update({str(k): np.asarray(v, dtype=np.float32) for k, v in got.items()})
    return out


#: Records read per batch when an approximate source's vectors are streamed for recall.
SCAN_BATCH = 4096

#: Validation queries whose competitors are checked against an exact scan by default.
RECALL_SAMPLE = 100


def scan_records(
    source: Any, batch: int = SCAN_BATCH
) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
    """Every record ``source`` holds as ``(ids, vectors)`` batches of at most ``batch``:
    its own ``scan`` when it has one, else ``all_ids()`` read back ``batch`` ids at a time
    (then the id list, not the vectors, is held whole)."""
    if isinstance(source, Scans):
        for ids, vecs in source.scan(batch):
            if len(ids):
                rows = np.asarray(vecs, dtype=np.float32).reshape(len(ids), -1)
                yield [str(i) for i in ids], rows
        return
    if not isinstance(source, ListsIds) or not isinstance(source, Reads):
        raise NudgeError(
            f"{type(source).__name__} can neither scan its records nor list their ids, so "
            "its recall cannot be measured"
        )
    ids = [str(i) for i in source.all_ids()]
    for start in range(0, len(ids), batch):
        got = read_vectors(source, ids[start : start + batch], batch)
        if got:
            keys = list(got)
            yield keys, np.stack([got[i] for i in keys])


def exact_outside(
    source: Any,
    queries: NDArray[np.float32],
    k: int,
    skip: set[str],
    *,
    batch: int = SCAN_BATCH,
    similarity: str = "cosine",
) -> tuple[list[list[str]], int]:
    """Exact top-``k`` ids per query over every record ``source`` holds outside ``skip``,
    best first by ``similarity`` ("cosine", "dot" or "l2"), and how many records were
    scanned. The records are streamed ``batch`` at a time, so memory is ``batch x d``
    vectors and ``queries x batch`` scores whatever the source holds."""
    if similarity not in ("cosine", "dot", "l2"):
        raise NudgeError(f"similarity must be 'cosine', 'dot' or 'l2', got {similarity!r}")
    q = np.ascontiguousarray(queries, dtype=np.float32)
    dim = q.shape[1]
    if similarity == "l2":  # nearest by L2 = best by 2 q.v - |v|^2: one more column each
        q = np.hstack([2 * q, -np.ones((q.shape[0], 1), np.float32)])
    m = q.shape[0]
    best_s = np.full((m, k), -np.inf, dtype=np.float32)
    best_id = np.full((m, k), None, dtype=object)
    scanned = 0
    for ids, vecs in scan_records(source, batch):
        if vecs.shape[1] != dim:
            raise NudgeError(
                f"query vectors have {dim} dimensions but the store holds "
                f"{vecs.shape[1]}-d vectors: embed the queries with the store's model"
            )
        scanned += len(ids)
        if similarity == "l2":
            vecs = np.hstack([vecs, np.einsum("ij,ij->i", vecs, vecs)[:, None]])
        mask = np.fromiter((i in skip for i in ids), dtype=bool, count=len(ids))
        s, rows = scan_chunks(
            q, vecs, k, normalize=similarity == "cosine", exclude=mask, name="stored vectors"
        )
        picked = np.asarray(ids, dtype=object)[np.maximum(rows, 0)]
        picked[rows < 0] = None
        cat_s = np.concatenate([best_s, s], axis=1)
        cat_id = np.concatenate([best_id, picked], axis=1)
        order = np.argsort(-cat_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cat_s, order, 1)
        best_id = np.take_along_axis(cat_id, order, 1)
    out = [
        [str(i) for i, v in zip(ids_row, s_row, strict=True) if i is not None and v > -np.inf]
        for ids_row, s_row in zip(best_id, best_s, strict=True)
    ]
    return out, scanned


@dataclass(frozen=True)
class StoreRecall:
    """Recall@``k`` of an approximate source's competitor search on sampled validation
    queries (``rows``): its first ``k`` results outside the ``n_skipped`` records the fit
    leaves out of the search (touched ones, and those it scores from vectors in hand)
    against the exact ``k`` (cosine over every record it holds, the same ones left out)."""

    value: float
    k: int
    n_queries: int
    n_of: int
    n_scanned: int
    n_skipped: int
    seconds: float
    rows: tuple[int, ...] = ()
    found: tuple[tuple[str, ...], ...] = ()
    exact: tuple[tuple[str, ...], ...] = ()


def sample_rows(m: int, sample: int) -> NDArray[np.int64]:
    """``sample`` of ``m`` query rows spread evenly (all of them when ``sample >= m``)."""
    if sample >= m:
        return np.arange(m, dtype=np.int64)
    return np.unique(np.linspace(0, m - 1, sample).round().astype(np.int64))


def measure_recall(
    source: Any,
    queries: NDArray[np.float32],
    found: Sequence[Sequence[str]],
    k: int,
    skip: set[str],
    *,
    batch: int = SCAN_BATCH,
    n_of: int | None = None,
    rows: Sequence[int] | NDArray[np.int64] = (),
) -> StoreRecall | None:
    """:class:`StoreRecall` of ``found`` (the source's answers for ``queries``, left-out
    ids removed) against an exact scan of ``source``; None when no record lies outside
    ``skip``."""
    start = time.perf_counter()
    exact, scanned = exact_outside(source, queries, k, skip, batch=batch)
    shares = [
        len(set(want) & set(list(got)[:k])) / len(want)
        for got, want in zip(found, exact, strict=True)
        if want
    ]
    if not shares:
        return None
    return StoreRecall(
        value=float(np.mean(shares)),
        k=k,
        n_queries=len(shares),
        n_of=n_of if n_of is not None else len(found),
        n_scanned=scanned,
        n_skipped=len(skip),
        seconds=time.perf_counter() - start,
        rows=tuple(int(r) for r in rows),
        found=tuple(tuple(list(f)[:k]) for f in found),
        exact=tuple(tuple(e) for e in exact),
    )


def _unit(
    x: NDArray[np.float32],
    ids: Sequence[str],
    where: str = ", returned by the store's search as a competitor,",
) -> NDArray[np.float32]:
    """Rows scaled to unit length; a competitor read back with NaN/inf or all zeros is
    refused by id (the in-memory fit refuses such a row wherever it lies; a store-native
    fit checks every record it reads)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0])
    if bad.any():
        raise NonFiniteError(
            f"record {ids[int(np.flatnonzero(bad)[0])]!r}{where} holds NaN or infinity: "
            "remove or re-embed that record"
        )
    zero = norms[:, 0] == 0
    if zero.any():
        raise ZeroVectorError(
            f"record {ids[int(np.flatnonzero(zero)[0])]!r}{where} is an all-zero vector, "
            "which has no direction: re-embed or drop it"
        )
    out: NDArray[np.float32] = (x / norms).astype(np.float32)
    return out


class SourceCompetitors:
    """Best untouched competitors from a :class:`RecordSource`, re-scored exactly.

    ``ids`` name the fit's local rows (touched and validation-relevant records); a
    competitor outside them gets row ``-1``, which no validation query judges relevant.
    ``overrides`` hold base vectors for records whose stored vector is not their base (a
    store nudged by an earlier fit): those are left out of the source's search and scored
    here from their base vectors instead, so the fit never competes against old nudges.
    """

    def __init__(
        self,
        source: RecordSource,
        ids: Sequence[str],
        overrides: Mapping[str, NDArray[np.float32]] | None = None,
        *,
        max_limit: int = MAX_LIMIT,
        recall_sample: int = 0,
        scan_batch: int = SCAN_BATCH,
    ) -> None:
        if isinstance(recall_sample, bool) or not isinstance(recall_sample, int | np.integer):
            raise NudgeError(f"recall_sample must be an integer >= 0, got {recall_sample!r}")
        if recall_sample < 0:
            raise NudgeError(f"recall_sample must be >= 0 (0: off), got {recall_sample}")
        self.source = source
        self.ids = list(ids)
        self.row_of = {key: i for i, key in enumerate(self.ids)}
        over = dict(overrides or {})
        self.override_ids = list(over)
        self.override_vecs = (
            _unit(np.stack([np.asarray(v, np.float32) for v in over.values()]), list(over), "")
            if over
            else np.zeros((0, 0), np.float32)
        )
        self.max_limit = max_limit
        #: Searches made by the last :meth:`topk` call and the widest ``limit`` used.
        self.calls = 0
        self.widest = 0
        self.recall_sample = int(recall_sample)
        self.scan_batch = scan_batch
        #: The last :meth:`topk` call's recall check (approximate sources only).
        self.recall: StoreRecall | None = None

    def topk(
        self, queries: torch.Tensor, k: int, exclude: NDArray[np.bool_]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q = queries.detach().cpu().numpy().astype(np.float32)
        m = q.shape[0]
        touched = {self.ids[i] for i in np.flatnonzero(exclude)}
        skip = touched | set(self.override_ids)
        cands = self._candidates(q, k + _SPARE, skip)
        self.recall = None
        if self.recall_sample and not is_exact(self.source):
            picked = sample_rows(m, self.recall_sample)
            self.recall = measure_recall(
                self.source,
                q[picked],
                [cands[i] for i in picked],
                k,
                skip,
                batch=self.scan_batch,
                n_of=m,
                rows=picked,
            )
        union = list(dict.fromkeys(c for per in cands for c in per))
        got = read_vectors(self.source, union)
        lost = [c for c in union if c not in got]
        if lost:
            raise NudgeError(
                f"the store's search returned id {lost[0]!r} but reading it back gave no "
                "vector: does the store keep its vectors (not only an index)?"
            )
        scores = np.full((m, k), -np.inf, dtype=np.float32)
        rows = np.full((m, k), -1, dtype=np.int64)
        vecs = (
            _unit(np.stack([np.asarray(got[c], np.float32) for c in union]), union)
            if union
            else None
        )
        pos = {c: i for i, c in enumerate(union)}
        ov_ok = [i for i, c in enumerate(self.override_ids) if c not in touched]
        for qi in range(m):
            names = list(cands[qi])
            s = (
                vecs[[pos[c] for c in names]] @ q[qi]
                if names and vecs is not None
                else np.zeros(0, np.float32)
            )
            if ov_ok:
                names += [self.override_ids[i] for i in ov_ok]
                s = np.concatenate([s, self.override_vecs[ov_ok] @ q[qi]])
            order = np.argsort(-s, kind="stable")[:k]
            scores[qi, : len(order)] = s[order]
            rows[qi, : len(order)] = [self.row_of.get(names[j], -1) for j in order]
        device = queries.device
        return torch.from_numpy(scores).to(device), torch.from_numpy(rows).to(device)

    def _candidates(self, q: NDArray[np.float32], want: int, skip: set[str]) -> list[list[str]]:
        """Per query, up to ``want`` ids outside ``skip``, widening the search as needed."""
        m = q.shape[0]
        source = self.source
        if isinstance(source, SearchesByScan) and source.search_scans and m >= SCAN_SEARCH_FROM:
            # one streamed scan for all queries instead of one full scan per query
            self.calls, self.widest = 1, want
            found, _ = exact_outside(source, q, want, skip, batch=self.scan_batch)
            return found
        if isinstance(self.source, SearchesOutside):  # it leaves ids out: one pass
            self.calls, self.widest = 1, want
            return [list(per)[:want] for per in self.source.nearest_outside(q, want, skip)]
        out: list[list[str]] = [[] for _ in range(m)]
        pending = np.arange(m)
        limit = min(self.max_limit, max(2 * want, want + 16))
        self.calls, self.widest = 0, 0
        while len(pending):
            found = self.source.nearest(q[pending], limit)
            self.calls += 1
            self.widest = max(self.widest, limit)
            still = []
            for qi, per in zip(pending.tolist(), found, strict=True):
                free = [c for c in per if c not in skip][:want]
                out[qi] = free
                if len(free) < want and len(per) >= limit:  # more may lie further out
                    still.append(qi)
            if still and limit >= self.max_limit:
                raise NudgeError(
                    f"the store's {limit} nearest records of a validation query are all "
                    f"touched by the fit, so its untouched competitors cannot be found "
                    f"({len(skip)} records excluded): use fewer training records, or fit "
                    "from the vectors in memory"
                )
            pending = np.asarray(still, dtype=np.int64)
            limit = min(self.max_limit, limit * 4)
        return out


class ArraySource:
    """A :class:`RecordSource` over an in-memory array with ids: exact, for tests and as
    the model other sources follow."""

    exact = True

    def __init__(self, vectors: Any, ids: Sequence[str]) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.ids = [str(i) for i in ids]
        self.row_of = {key: i for i, key in enumerate(self.ids)}
        self.unit = _unit(self.vectors, self.ids, "")

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        return {i: self.vectors[self.row_of[i]] for i in ids if i in self.row_of}

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """Every record, ``batch`` at a time."""
        for start in range(0, len(self.ids), batch):
            yield self.ids[start : start + batch], self.vectors[start : start + batch]

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        scores = np.asarray(queries, np.float32) @ self.unit.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :limit]
        return [[self.ids[j] for j in row] for row in top]


def is_record_source(obj: Any) -> bool:
    """Whether ``obj`` can serve a fit by id: ``read`` and ``nearest`` (or
    ``nearest_outside``)."""
    return isinstance(obj, Reads) and isinstance(obj, (Searches, SearchesOutside))


def source_size(source: Any) -> int | None:
    """How many records a source holds, when it can say."""
    try:
        if isinstance(source, Counts):
            return int(source.count())
        if isinstance(source, Sized):
            return len(source)
    except (TypeError, NotImplementedError):
        return None
    return None


def relevant_ids(judgements: Sequence[Any]) -> list[Hashable]:
    """Every id named by per-query judgements (lists of ids or id -> grade maps), in order."""
    seen: dict[Hashable, None] = {}
    for rel in judgements:
        if isinstance(rel, Mapping):
            keys = list(rel)
        elif isinstance(rel, str | bytes) or not isinstance(rel, Sequence | np.ndarray):
            continue  # the estimator explains what is wrong with it
        else:
            keys = list(rel)
        for key in keys:
            try:
                seen.setdefault(key, None)
            except TypeError:
                continue
    return list(seen)
