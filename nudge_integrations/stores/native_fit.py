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

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.core.fit_by_id import Estimator, fit_by_id, named_ids
from nudge_integrations.core.ids import Judgements
from nudge_integrations.core.sources import RECALL_SAMPLE, read_vectors
from nudge_integrations.stores.base import StoreWriter, read_batched
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

    @property
    def known(self) -> dict[str, NDArray[np.float32]]:
        """Every base vector in hand, for ``fit_by_id(base=...)``: the ledger's and the
        named records' (those are then neither read again nor searched for in the store)."""
        return {**self.overrides, **self.vectors}


def native_inputs(
    texts: TextsOf | None,
    writer: StoreWriter,
    ids: Sequence[str],
    ledger: LedgerLike,
    *,
    key: str | None = None,
    what: str = "record",
    label: str | None = None,
) -> NativeInputs:
    """Read ``ids`` (vectors and text) from the store, their base taken from the store's
    ledger where it keeps one; every read within the store's read limit. ``texts`` reads
    records' current text, so that a base vector whose record's text changed since is not
    used, and an id the store holds without a vector is told from one it does not hold at
    all (both raise, naming the ``what``); None trusts the ledger's bases as they are and
    leaves absent ids to :func:`fit_by_id`."""
    size = writer.limits.read
    found = find_ledger(writer, ledger, list(ids), key=key)
    out = NativeInputs({}, {})
    if found is not None and found.exists:
        # every record the ledger keeps has its base there, whatever the store holds now
        # (nudged, base, or half-way through an interrupted swap)
        base = found.base(found.ids)
        if texts is not None:
            now = read_batched(texts, list(base), size) if base else {}
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
    out.vectors = read_vectors(writer, todo, size)
    out.vectors.update({i: out.overrides[i] for i in ids if i in out.overrides})
    if texts is not None:
        out.texts = {str(k): v for k, v in read_batched(texts, list(ids), size).items()}
        _check_read(out, ids, what, label or type(writer).__name__)
    return out


def _check_read(got: NativeInputs, ids: Sequence[str], what: str, label: str) -> None:
    """Every named id was read with a vector: else name the first held without one, or
    the first the store does not hold."""
    missing = [i for i in ids if i not in got.vectors]
    vectorless = [i for i in missing if i in got.texts]
    if vectorless:
        raise NudgeError(
            f"{label} holds {what} {vectorless[0]!r} but returns no vector for it "
            f"({len(vectorless)} such {what}s): a store-native fit reads the stored vectors; "
            f"add those {what}s again, or fit without native=True"
        )
    if missing:
        raise UnknownIdError(
            f"the questions name {what} id {missing[0]!r}, which {label} does not hold "
            f"({len(missing)} such ids): fix the id or add the {what} to the store"
        )


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
    recall_sample: int = RECALL_SAMPLE,
) -> Estimator:
    """:func:`~nudge_integrations.core.fit_by_id` on a store writer, through its nudge
    ledger: records an earlier swap nudged compete with their base vectors from the
    ledger, never the store's; a store whose records are marked nudged but whose ledger
    is gone is refused. Use this rather than ``fit_by_id`` on a store you swap into."""
    _, ids = named_ids(train_relevant, val_relevant)
    got = native_inputs(texts, writer, ids, ledger)
    fit_by_id(
        estimator,
        writer,  # type: ignore[arg-type]
        train_queries,
        train_relevant,
        val_queries,
        val_relevant,
        base=got.known,
        name=type(writer).__name__,
        recall_sample=recall_sample,
    )
    if got.notes:
        result = estimator.result_
        estimator.result_ = dataclasses.replace(result, notes=(*got.notes, *result.notes))
    return estimator
