"""What a store-native fit reads from a store: the named records, and the ledger's bases.

Shared by both adapters. Only the records the questions name are read (vectors and
text), plus the text of records the store's ledger keeps, to check that their base
vectors still fit them. Every record the ledger keeps competes from its base vector, so
a refit on a nudged store never compounds the earlier nudge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.fit_by_id import read_vectors
from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.ledger import LedgerError, text_hash
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
    texts_of: TextsOf | object,
    writer: StoreWriter,
    ids: Sequence[str],
    ledger: LedgerLike,
    *,
    key: str | None = None,
) -> NativeInputs:
    """Read ``ids`` (vectors and text) from the store, their base taken from the store's
    ledger where it keeps one; a half-swapped store is refused."""
    texts = getattr(texts_of, "texts", texts_of)
    assert callable(texts)
    found = find_ledger(writer, ledger, list(ids), key=key)
    out = NativeInputs({}, {})
    if found is not None and found.exists:
        if found.op is not None:
            raise LedgerError(
                f"the store is half-swapped (the ledger at {found.path} records an "
                "interrupted operation): call finish() or rollback() before fitting again"
            )
        base = found.base(found.ids)
        now = dict(texts(list(base))) if base else {}
        out.overrides = {
            i: v for i, v in base.items() if i in now and text_hash(now[i]) == found.hash_of(i)
        }
        out.ledger = found.path
        if out.overrides:
            out.notes.append(
                f"base vectors of {len(out.overrides)} nudged records read from the ledger at "
                f"{found.path}"
            )
    todo = [i for i in ids if i not in out.overrides]
    out.vectors = read_vectors(writer, todo)  # type: ignore[arg-type]
    out.vectors.update({i: out.overrides[i] for i in ids if i in out.overrides})
    out.texts = {str(k): v for k, v in dict(texts(list(ids))).items()}
    return out
