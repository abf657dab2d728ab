"""What a store-native fit reads from a store: the named records, and the ledger's bases.

Shared by both adapters. Only the records the questions name are read (vectors and
text), plus the text of records the store's ledger keeps, to check that their base
vectors still fit them. Every record the ledger keeps competes from its base vector, so
a refit on a nudged store never compounds the earlier nudge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.fit_by_id import Estimator, fit_by_id
from nudge_integrations.core.ids import Judgements
from nudge_integrations.core.sources import read_vectors, relevant_ids
from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.ledger import text_hash
from nudge_integrations.stores.location import LedgerLike, find_ledger

TextsOf = Callable[[Sequence[str]], Mapping[str, str]]


@dataclass
class NativeInputs:
    """The named records' base vectors and text, and the ledger's base vectors."""

    vectors: dict[str, NDArray[np.float32]]
    texts: dict[str, str]
    overrides: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    ledger: Path | None = None
    notes: list[str] = field(default_factory=list)


def native_inputs(
    texts_of: TextsOf | object | None,
    writer: StoreWriter,
    ids: Sequence[str],
    ledger: LedgerLike,
    *,
    key: str | None = None,
) -> NativeInputs:
    """Read ``ids`` (vectors and text) from the store, their base taken from the store's
    ledger where it keeps one. ``texts_of`` (a callable or an adapter with ``texts``)
    reads records' current text, so that a base vector whose record's text changed since
    is not used; None trusts the ledger's bases as they are."""
    texts = getattr(texts_of, "texts", texts_of)
    found = find_ledger(writer, ledger, list(ids), key=key)
    out = NativeInputs({}, {})
    if found is not None and found.exists:
        # every record the ledger keeps has its base there, whatever the store holds now
        # (nudged, base, or half-way through an interrupted swap)
        base = found.base(found.ids)
        if callable(texts):
            now = dict(texts(list(base))) if base else {}
            base = {
                i: v for i, v in base.items() if i in now and text_hash(now[i]) == found.hash_of(i)
            }
        out.overrides = base
        out.ledger = found.path
        if out.overrides:
            out.notes.append(
                f"base vectors of {len(out.overrides)} records the nudge ledger at "
                f"{found.path} keeps were read from it, not from the store"
            )
    todo = [i for i in ids if i not in out.overrides]
    out.vectors = read_vectors(writer, todo)  # type: ignore[arg-type]
    out.vectors.update({i: out.overrides[i] for i in ids if i in out.overrides})
    if callable(texts):
        out.texts = {str(k): v for k, v in dict(texts(list(ids))).items()}
    return out


def fit_store(
    estimator: Estimator,
    writer: StoreWriter,
    train_queries: Any,
    train_relevant: Sequence[Judgements],
    val_queries: Any = None,
    val_relevant: Sequence[Judgements] | None = None,
    *,
    ledger: LedgerLike = None,
    texts: TextsOf | None = None,
) -> Estimator:
    """:func:`~nudge_integrations.core.fit_by_id` on a store writer, through its nudge
    ledger: records an earlier swap nudged compete with their base vectors from the
    ledger, never the store's; a store whose records are marked nudged but whose ledger
    is gone is refused. Use this rather than ``fit_by_id`` on a store you swap into."""
    keys = relevant_ids(list(train_relevant) + list(val_relevant or []))
    got = native_inputs(texts, writer, [str(k) for k in keys], ledger)
    known = {**got.overrides, **got.vectors}
    fit_by_id(
        estimator,
        writer,  # type: ignore[arg-type]
        train_queries,
        train_relevant,
        val_queries,
        val_relevant,
        base=known,
        name=type(writer).__name__,
    )
    if got.notes:
        result = estimator.result_
        estimator.result_ = dataclasses.replace(result, notes=(*got.notes, *result.notes))
    return estimator
