"""A tiny test store: dict-backed ``MarkedWriter`` with tiny limits that refuses any request
larger than them (as Chroma refuses a batch over its max) and fails on demand at the Nth
request of a kind, so one unbatched call or one unguarded write shows in a fast test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.stores.base import Limits, MarkedWriter

#: The tiny store's limits: 3 ids a read, 2 records a write.
TINY = Limits(read=3, write=2)

#: Request kinds a :class:`TinyStore` counts; "mutation" counts both writes together.
KINDS = ("read", "write", "read_markers", "write_markers", "texts")


class OverLimitError(AssertionError):
    """A request larger than the store's limits (or empty): a bug in the caller."""


class InjectedError(RuntimeError):
    """The failure a test asked for."""


class TinyStore(MarkedWriter):
    """``n`` records of ``dim`` float32 vectors, texts and markers in dicts; every request
    is checked against ``limits`` and counted by kind (``fail`` names request numbers,
    1-based, per kind or ``"mutation"``, that raise :class:`InjectedError` before anything
    is written)."""

    similarity: str | None = "dot"

    def __init__(self, n: int = 14, dim: int = 4, limits: Limits = TINY, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = {f"r{i}": rng.normal(size=dim).astype(np.float32) for i in range(n)}
        self.text = {i: f"text of {i}" for i in self.vectors}
        self.marks: dict[str, str] = {}
        self.limits = limits
        self.counts: Counter[str] = Counter()
        self.fail: dict[str, set[int]] = {}

    def _request(self, kind: str, n: int, limit: int) -> None:
        if not 1 <= n <= limit:
            raise OverLimitError(f"a {kind} request of {n} records; this store takes 1 to {limit}")
        self.counts[kind] += 1
        if self.counts[kind] in self.fail.get(kind, ()):
            raise InjectedError(f"{kind} request {self.counts[kind]} failed")
        if kind.startswith("write"):
            self.counts["mutation"] += 1
            if self.counts["mutation"] in self.fail.get("mutation", ()):
                raise InjectedError(f"mutation {self.counts['mutation']} ({kind}) failed")

    def all_ids(self) -> list[str]:
        return list(self.vectors)

    def _read(self, ids: list[str]) -> dict[str, NDArray[np.float32]]:
        self._request("read", len(ids), self.limits.read)
        return {i: self.vectors[i].copy() for i in ids if i in self.vectors}

    def _write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        self._request("write", len(vectors), self.limits.write)
        unknown = [i for i in vectors if i not in self.vectors]
        if unknown:
            raise KeyError(f"no record {unknown[0]!r}")
        for i, v in vectors.items():
            self.vectors[i] = np.asarray(v, np.float32).copy()

    def _read_markers(self, ids: list[str]) -> dict[str, str]:
        self._request("read_markers", len(ids), self.limits.read)
        return {i: self.marks[i] for i in ids if i in self.marks}

    def _write_markers(self, ids: list[str], value: str | None) -> None:
        self._request("write_markers", len(ids), self.limits.write)
        for i in ids:
            if value is None:
                self.marks.pop(i, None)
            else:
                self.marks[i] = value

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        """One text request (the lifecycle must cut its calls to the read limit)."""
        self._request("texts", len(ids), self.limits.read)
        return {i: self.text[i] for i in ids if i in self.text}

    def state(self) -> tuple[dict[str, bytes], dict[str, str]]:
        """Every vector's bytes and every marker: equal states are equal bit for bit."""
        return {i: v.tobytes() for i, v in self.vectors.items()}, dict(self.marks)
