"""Records addressed by id or by row: resolve ids and relevance judgements to row numbers."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, ShapeError, UnknownIdError

#: One query's judgements: relevant ids (gain 1 each) or a mapping id -> graded gain.
Judgements = Sequence[Any] | Mapping[Any, float]


class IdIndex:
    """Maps record ids to rows. Without ids, rows are addressed by integer position."""

    def __init__(self, ids: Sequence[Hashable] | None, n_rows: int):
        self.n_rows = int(n_rows)
        self.ids: list[Hashable] | None = None
        self._row: dict[Hashable, int] = {}
        if ids is not None:
            id_list = list(ids)
            if len(id_list) != n_rows:
                raise ShapeError(
                    f"got {len(id_list)} ids for {n_rows} embedding rows: "
                    "pass exactly one id per row"
                )
            row: dict[Hashable, int] = {}
            for i, key in enumerate(id_list):
                try:
                    prev = row.setdefault(key, i)
                except TypeError as exc:
                    raise NudgeError(f"record id {key!r} at row {i} is not hashable") from exc
                if prev != i:
                    raise DuplicateIdError(
                        f"record id {key!r} appears twice (rows {prev} and {i}): ids must be unique"
                    )
            self.ids = id_list
            self._row = row

    def row(self, key: Hashable, where: str) -> int:
        """Row of ``key``; ``where`` names the context for the error message."""
        if self.ids is not None:
            try:
                return self._row[key]
            except (KeyError, TypeError):
                raise UnknownIdError(
                    f"{where} refers to record id {key!r}, which is not among the "
                    f"{self.n_rows} corpus ids: fix the id or add that record to the corpus"
                ) from None
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise UnknownIdError(
                f"{where} refers to {key!r}, but no ids were given, so records are addressed "
                "by integer row: pass ids=... to fit or use row numbers"
            )
        if not 0 <= int(key) < self.n_rows:
            raise UnknownIdError(
                f"{where} refers to row {int(key)}, outside the corpus (0..{self.n_rows - 1})"
            )
        return int(key)

    def key(self, row: int) -> Hashable:
        """The id of ``row`` (the row number itself when no ids were given)."""
        return self.ids[row] if self.ids is not None else int(row)

    def keys(self, rows: NDArray[np.int64]) -> list[Hashable]:
        """:meth:`key` of each of ``rows``, in one pass (a fit names thousands of rows)."""
        if self.ids is None:
            keys: list[Hashable] = rows.tolist()
            return keys
        ids = self.ids
        return [ids[r] for r in rows.tolist()]


@dataclass(frozen=True)
class Pairs:
    """Flattened (query, row, gain) judgements, one entry per relevant record."""

    query: NDArray[np.int64]
    row: NDArray[np.int64]
    gain: NDArray[np.float32]
    n_queries: int

    def as_relevance(self) -> list[dict[int, float]]:
        """Per-query ``{row: gain}`` dictionaries."""
        out: list[dict[int, float]] = [{} for _ in range(self.n_queries)]
        for q, r, g in zip(self.query.tolist(), self.row.tolist(), self.gain.tolist(), strict=True):
            out[q][r] = g
        return out

    def subset(self, queries: NDArray[np.int64]) -> Pairs:
        """The judgements of ``queries`` (renumbered 0..len-1 in the given order)."""
        new_pos = np.full(self.n_queries, -1, dtype=np.int64)
        new_pos[queries] = np.arange(len(queries))
        keep = new_pos[self.query] >= 0
        q = new_pos[self.query[keep]]
        order = np.argsort(q, kind="stable")
        return Pairs(q[order], self.row[keep][order], self.gain[keep][order], len(queries))


def resolve_judgements(
    relevant: Sequence[Judgements], index: IdIndex, n_queries: int, name: str
) -> Pairs:
    """Turn per-query relevant ids (or id -> gain maps) into :class:`Pairs`.

    Every query needs at least one relevant record with a positive gain.
    """
    if isinstance(relevant, str | bytes) or not isinstance(relevant, Sequence):
        raise NudgeError(
            f"{name} relevant records must be a list with one entry per query "
            "(a list of ids, or a dict id -> grade)"
        )
    if len(relevant) != n_queries:
        raise ShapeError(
            f"{name}: {n_queries} query embeddings but {len(relevant)} relevance entries; "
            "pass one entry per query, in the same order"
        )
    fast = _plain_lists(relevant, index)
    if fast is not None:
        return fast
    qs: list[int] = []
    rows: list[int] = []
    gains: list[float] = []
    for qi, rel in enumerate(relevant):
        if isinstance(rel, Mapping):
            items = [(key, float(g)) for key, g in rel.items()]
        elif isinstance(rel, str | bytes) or not isinstance(rel, Sequence | np.ndarray):
            raise NudgeError(
                f"{name} query {qi}: relevant records must be a list of ids or a dict id -> grade, "
                f"got {type(rel).__name__} (wrap a single id as [id])"
            )
        else:
            items = [(key, 1.0) for key in rel]
        seen: set[int] = set()
        for key, gain in items:
            if not np.isfinite(gain):
                raise NudgeError(f"{name} query {qi}: grade of {key!r} is {gain}, not finite")
            row = index.row(key, f"{name} query {qi}")
            if gain > 0 and row not in seen:
                seen.add(row)
                qs.append(qi)
                rows.append(row)
                gains.append(gain)
        if not seen:
            raise NudgeError(
                f"{name} query {qi} has no relevant record: every query needs at least one "
                "relevant id with a positive grade; drop the query or add its judgements"
            )
    return Pairs(
        np.asarray(qs, dtype=np.int64),
        np.asarray(rows, dtype=np.int64),
        np.asarray(gains, dtype=np.float32),
        n_queries,
    )


def _plain_lists(relevant: Sequence[Judgements], index: IdIndex) -> Pairs | None:
    """:func:`resolve_judgements` for the common case, lists of known ids (gain 1), in a
    few array passes; ``None`` (the checked loop then runs and names any problem) for
    grades, unknown ids, empty lists or anything unusual."""
    if not set(map(type, relevant)) <= {list, tuple}:
        return None
    lens = np.fromiter(map(len, relevant), dtype=np.int64, count=len(relevant))
    if len(lens) == 0 or not lens.all():
        return None
    keys = [key for rel in relevant for key in rel]
    if index.ids is None:
        if not set(map(type, keys)) <= {int, np.int64, np.int32}:
            return None
        rows = np.asarray(keys, dtype=np.int64)
        if rows.min() < 0 or rows.max() >= index.n_rows:
            return None
    else:
        get = index._row.get
        try:
            rows = np.asarray([get(key, -1) for key in keys], dtype=np.int64)
        except TypeError:  # an unhashable id
            return None
        if (rows < 0).any():
            return None
    query = np.repeat(np.arange(len(relevant), dtype=np.int64), lens)
    # a record named twice by one query counts once, at its first mention
    _, first = np.unique(query * index.n_rows + rows, return_index=True)
    keep = np.sort(first)
    return Pairs(query[keep], rows[keep], np.ones(len(keep), dtype=np.float32), len(relevant))
