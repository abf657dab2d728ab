"""LangChain's ``InMemoryVectorStore``: id -> {text, metadata, vector} in its ``store``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nudge_integrations.stores.base import batches
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.markers import without_marker
from nudge_integrations.stores.memory.writer import InMemoryWriter


def bind(store: Any) -> Bound:
    """An ``InMemoryVectorStore`` bound for the lifecycle."""
    writer = InMemoryWriter(store)
    table = writer.table

    def read_texts(ids: list[str]) -> dict[str, str]:
        return {i: table[i]["text"] for i in ids if i in table}

    def records() -> Iterator[list[Record]]:
        for page in batches(list(table), writer.limits.read):
            yield [
                Record(
                    i,
                    table[i]["text"],
                    without_marker(table[i]["metadata"]),
                    np.asarray(table[i]["vector"], dtype=np.float32),
                )
                for i in page
            ]

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
