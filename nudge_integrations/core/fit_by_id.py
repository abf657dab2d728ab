"""Fit against a corpus reached by id (a vector store, shards): the data never comes whole.

Only the records the queries name are read (touched and validation-relevant ones), and
each validation query's untouched competitors come from the source's own search. Memory
is O(touched + validation x k), whatever the corpus holds. On an exact source the gamma
and vectors are those of the in-memory fit over the same vectors.

:func:`fit_by_id` and :func:`~nudge_integrations.core.shards.fit_shards` share one
driver: :func:`named_ids` (the ids the judgements name), :func:`unknown_ids` (the error
for ids the corpus lacks), :func:`check_named` (the vectors read) and :func:`fit_named`
(renaming and the fit itself); each reads the named records, builds its competitor
source and maps the result's rows to its corpus its own way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.competitors import CompetitorSource
from nudge_integrations.core.errors import (
    EmptyTrainingSetError,
    NonFiniteError,
    NudgeError,
    UnknownIdError,
    ZeroVectorError,
)
from nudge_integrations.core.fit import NudgeM, NudgeN
from nudge_integrations.core.ids import Judgements
from nudge_integrations.core.result import NudgeResult
from nudge_integrations.core.sources import (
    RECALL_SAMPLE,
    RecordSource,
    SourceCompetitors,
    StoreRecall,
    is_exact,
    read_vectors,
    relevant_ids,
    source_size,
)

Estimator = TypeVar("Estimator", bound=NudgeN | NudgeM)


def check_named(vectors: NDArray[np.float32], ids: Sequence[str], label: str) -> None:
    """Raise, naming the record by id, if a vector read for the fit is NaN/inf or zero."""
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        bad = ids[int(np.flatnonzero(~finite)[0])]
        raise NonFiniteError(
            f"the vector {label} holds for record {bad!r} contains NaN or infinity: re-embed "
            "that record"
        )
    zero = ~vectors.any(axis=1)
    if zero.any():
        bad = ids[int(np.flatnonzero(zero)[0])]
        raise ZeroVectorError(
            f"the vector {label} holds for record {bad!r} is all zeros, which has no "
            "direction: re-embed that record"
        )


def named_ids(
    train_relevant: Sequence[Judgements], val_relevant: Sequence[Judgements] | None
) -> tuple[list[Hashable], list[str]]:
    """Every id the training and validation judgements name, in order, as given and as
    the strings a corpus knows them by; raises if they name none."""
    keys = relevant_ids(list(train_relevant) + list(val_relevant or []))
    if not keys:
        raise EmptyTrainingSetError(
            "no query names a relevant record: NUDGE needs training queries with judgements"
        )
    return keys, [str(k) for k in keys]


def unknown_ids(
    absent: Sequence[Hashable], label: str, where: str = "a query", add: str = "that record"
) -> UnknownIdError:
    """The error for judgements naming ids (``absent``, in the order named) that ``label``
    does not hold; ``where`` names the query of the first."""
    return UnknownIdError(
        f"{where} refers to record id {absent[0]!r}, which {label} does not hold "
        f"({len(absent)} such ids): fix the id or add {add}"
    )


def fit_named(
    estimator: NudgeN | NudgeM,
    local: NDArray[np.float32],
    keys: Sequence[Hashable],
    competitors: CompetitorSource,
    train_queries: Any,
    train_relevant: Sequence[Judgements],
    val_queries: Any = None,
    val_relevant: Sequence[Judgements] | None = None,
) -> NudgeResult:
    """Fit on the named records only: ``local`` holds the (checked) vectors of ``keys``
    from :func:`named_ids`; judgements are renamed to string ids and the untouched
    competitors come from ``competitors``. Returns the estimator's result, whose ``rows``
    index ``keys``: the caller maps them to its corpus."""
    ids = [str(k) for k in keys]
    rename = dict(zip(keys, ids, strict=True))
    train = [_renamed(r, rename) for r in train_relevant]
    val = None if val_relevant is None else [_renamed(r, rename) for r in val_relevant]
    estimator.fit(local, train_queries, train, val_queries, val, ids=ids, competitors=competitors)
    return estimator.result_


def _where(key: Any, train: Sequence[Judgements], val: Sequence[Judgements] | None) -> str:
    for name, judged in (("training", train), ("validation", val or [])):
        for qi, rel in enumerate(judged):
            if key in relevant_ids([rel]):
                return f"{name} query {qi}"
    return "a query"


def fit_by_id(
    estimator: Estimator,
    source: RecordSource,
    train_queries: Any,
    train_relevant: Sequence[Judgements],
    val_queries: Any = None,
    val_relevant: Sequence[Judgements] | None = None,
    *,
    base: Mapping[str, Any] | None = None,
    name: str | None = None,
    recall_sample: int = RECALL_SAMPLE,
) -> Estimator:
    """Fit ``estimator`` (a :class:`NudgeN` or :class:`NudgeM`) on a corpus reached by id.

    Judgements name records by their string ids in ``source``. ``base`` maps ids whose
    stored vector is not their base (a store an earlier fit nudged) to their base vector,
    read from the nudge ledger: those are read and compete from ``base``, never from the
    store. The result's ``ids`` and ``vectors`` hold the moved records; its ``rows`` are
    ``-1`` (there is no corpus matrix) and ``n_records`` is the source's size when known.

    On an approximate source (``source.exact`` false) the competitor search of
    ``recall_sample`` validation queries (0: none) is checked against an exact scan of
    the source's vectors, streamed in batches: the recall@k is in the result's notes and
    in ``estimator.index_recall_`` (None when not measured). Exact sources skip this.
    """
    label = name or type(source).__name__
    keys, ids = named_ids(train_relevant, val_relevant)
    overrides = {str(k): np.asarray(v, dtype=np.float32) for k, v in (base or {}).items()}
    stored = read_vectors(source, [i for i in ids if i not in overrides])
    stored.update({i: overrides[i] for i in ids if i in overrides})
    absent = [k for k, i in zip(keys, ids, strict=True) if i not in stored]
    if absent:
        where = _where(absent[0], train_relevant, val_relevant)
        raise unknown_ids(absent, label, where, "that record to the store")
    dims = {stored[i].shape for i in ids}
    if len(dims) != 1 or len(next(iter(dims))) != 1:
        raise NudgeError(f"{label} holds vectors of different shapes {sorted(dims)}")
    local = np.stack([stored[i] for i in ids])
    check_named(local, ids, label)
    competitors = SourceCompetitors(source, ids, overrides, recall_sample=recall_sample)
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
    notes = list(result.notes)
    recall = competitors.recall if result.curve else None
    if not is_exact(source) and result.curve:
        notes.append(_approximate_note(label, recall, recall_sample))
    estimator.index_recall_ = None if recall is None else recall.value
    size = source_size(source)
    estimator.result_ = dataclasses.replace(
        result,
        rows=np.full(len(result.ids), -1, dtype=np.int64),
        n_records=size if size is not None else result.n_records,
        notes=tuple(notes),
    )
    return estimator


def _approximate_note(label: str, recall: StoreRecall | None, recall_sample: int) -> str:
    """The note on competitors found by an approximate index, with its measured recall."""
    if recall is None:
        why = (
            "recall_sample=0"
            if not recall_sample
            else "every record the search could return is one the fit scores itself"
        )
        return (
            f"untouched competitors came from {label}'s approximate index, so gamma was "
            f"chosen against its recall (not measured: {why}); measure it with "
            "index_recall(...)"
        )
    return (
        f"untouched competitors came from {label}'s approximate index, so gamma was "
        f"chosen against its recall: recall@{recall.k} {recall.value:.3f} on "
        f"{recall.n_queries} of {recall.n_of} validation queries (its first {recall.k} "
        f"results outside the {recall.n_skipped:,} records the fit scores itself, against "
        f"an exact scan of the {recall.n_scanned:,} records it holds, {recall.seconds:.1f} s)"
    )


def _renamed(rel: Any, rename: Mapping[Any, str]) -> Any:
    """Judgements with every id as the string the source knows it by."""
    if isinstance(rel, Mapping):
        return {rename.get(k, k): g for k, g in rel.items()}
    if isinstance(rel, str | bytes) or not isinstance(rel, Sequence | np.ndarray):
        return rel
    return [rename.get(k, k) for k in rel]
