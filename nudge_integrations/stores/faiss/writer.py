"""A flat FAISS index, updated in place row by row; its rows' ids are kept by the
framework (a LlamaIndex index struct, a LangChain ``index_to_docstore_id``) or a file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.base import BatchedWriter, Limits, Location

#: The index's rows live in this process's memory and are read and written through a
#: numpy view of them: no request, so no limit (the ledger still writes in batches).
LIMITS = Limits(read=1 << 30, write=1 << 30)


class FaissFlatWriter(BatchedWriter):
    """A flat FAISS index; ``position_of`` maps ids to rows (None: not known here, e.g. a
    bare LlamaIndex ``FaissVectorStore`` without its index, whose metric alone is told)."""

    limits = LIMITS
    #: A flat index searches exhaustively.
    exact = True

    def __init__(
        self, index: Any, position_of: Mapping[str, int] | None, *, path: str | None = None
    ) -> None:
        import faiss

        self.path = path
        flat = faiss.downcast_index(index)
        if not isinstance(flat, faiss.IndexFlat):
            raise NudgeError(
                f"only flat FAISS indexes can be updated in place, this one is "
                f"{type(flat).__name__}: rebuild the index from the nudged vectors"
            )
        self.index = flat
        self._owner = index  # the downcast proxy does not keep the index it views alive
        self._positions = None if position_of is None else dict(position_of)
        self.similarity: str | None = {
            faiss.METRIC_INNER_PRODUCT: "dot",
            faiss.METRIC_L2: "l2",
        }.get(flat.metric_type)

    @property
    def position_of(self) -> dict[str, int]:
        """Row of each id."""
        if self._positions is None:
            raise NudgeError(
                "a FAISS store's rows are mapped to ids by its index: pass the "
                "VectorStoreIndex, not the bare FaissVectorStore"
            )
        return self._positions

    def all_ids(self) -> list[str]:
        return list(self.position_of)

    def location(self) -> Location | None:
        """The index file, when the index was read from one (its ledger lies beside it)."""
        return ("path", self.path, "faiss") if self.path else None

    def _rows(self) -> NDArray[np.float32]:
        import faiss

        data = faiss.rev_swig_ptr(self.index.get_xb(), self.index.ntotal * self.index.d)
        return np.asarray(data).reshape(self.index.ntotal, self.index.d)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        rows, at = self._rows(), self.position_of
        return {i: rows[at[i]].copy() for i in ids if i in at}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        rows, at = self._rows(), self.position_of
        for i, vec in vectors.items():
            rows[at[i]] = vec

    def count(self) -> int:
        return int(self.index.ntotal)

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        """Best ids per query by the store's own exact search."""
        return self.nearest_outside(queries, limit, set())

    def nearest_outside(
        self, queries: NDArray[np.float32], limit: int, skip: set[str]
    ) -> list[list[str]]:
        """Best ids per query by the index's own exact search, ``skip`` left out by an
        id selector (one pass, no over-fetching)."""
        import faiss

        at = self.position_of
        id_of = {p: i for i, p in at.items()}
        gone = np.asarray(sorted(at[i] for i in skip if i in at))
        params = None
        if len(gone):
            batch = faiss.IDSelectorBatch(gone.astype(np.int64))
            outside = faiss.IDSelectorNot(batch)
            params = faiss.SearchParameters()
            params.sel = outside  # ``batch`` and ``outside`` stay alive until the search
        k = max(1, min(limit, self.index.ntotal))
        q = np.ascontiguousarray(queries, dtype=np.float32)
        _, rows = self.index.search(q, k, params=params)
        return [[id_of[int(r)] for r in row if r >= 0 and int(r) in id_of] for row in rows]

    def save(self) -> None:
        """Rewrite the index file it was read from (atomically: a temporary, renamed)."""
        import faiss

        if not self.path:
            raise NudgeError("this FAISS index was not read from a file: nothing to save")
        target = Path(self.path)
        tmp = target.with_name(f".{target.name}.tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(target)
