"""Every vector and marker write request of a writer class, counted (and failed on demand)
at the request level: ``_write`` (vectors), ``_write_markers`` (markers) and
``_write_together`` (a store's combined vector-and-marker request), which are what a
swap, revert or rollback sends to the store whichever way a batch is cut."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from nudge_integrations.stores.base import KeepsMarkers, MarkedWriter

#: Request kinds: vectors alone, markers alone, vectors with their markers.
KINDS = ("vectors", "markers", "both")


class InjectedError(RuntimeError):
    """The failure a test asked for."""


@dataclass
class Requests:
    """Every write request of a writer class (wrapped at the class level, so every
    binding of the store is seen), its size, and failures on demand: ``fail`` holds
    (kind, n), kind "vectors", "markers", "both" or "any", n counted from 1; a failure
    is raised before the request is sent."""

    sizes: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KINDS})
    fail: set[tuple[str, int]] = field(default_factory=set)

    def reset(self, *fail: tuple[str, int]) -> None:
        self.sizes = {k: [] for k in KINDS}
        self.fail = set(fail)

    def count(self, kind: str) -> int:
        return sum(map(len, self.sizes.values())) if kind == "any" else len(self.sizes[kind])

    def vector_writes(self) -> list[int]:
        """Sizes of the requests that carried vectors (alone or with their markers)."""
        return self.sizes["vectors"] + self.sizes["both"]

    def request(self, kind: str, size: int) -> None:
        self.sizes[kind].append(size)
        for key in ((kind, self.count(kind)), ("any", self.count("any"))):
            if key in self.fail:
                raise InjectedError(f"{kind} write request {key[1]} ({key[0]}) failed")


def watch(cls: type, monkeypatch: pytest.MonkeyPatch) -> Requests:
    """The write requests of writer class ``cls`` from now on (until ``monkeypatch``
    is undone)."""
    seen = Requests()

    def wrap(name: str, kind: str) -> None:
        real = getattr(cls, name)

        def request(writer: Any, first: Any, *rest: Any) -> None:
            seen.request(kind, len(first))
            real(writer, first, *rest)

        monkeypatch.setattr(cls, name, request)

    wrap("_write", "vectors")
    if issubclass(cls, KeepsMarkers):
        wrap("_write_markers", "markers")
    if issubclass(cls, MarkedWriter):
        # called only where the writer writes together (MarkedWriter.writes_together)
        wrap("_write_together", "both")
    return seen
