"""A framework's store object seen the way the lifecycle needs it: what a store folder's
``llama_index.bind`` / ``langchain.bind`` / ``cli.open_store`` returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.stores.base import StoreWriter, read_batched

#: Reads the current text of records by id (absent ids left out); None: texts not checked.
TextReader = Callable[[Sequence[str]], Mapping[str, str]] | None


@dataclass
class Record:
    """One stored record, framework-neutral: id, text, metadata (without the nudge
    marker) and its stored vector (None when the store returned none)."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: NDArray[np.float32] | None = None


@dataclass
class Bound:
    """A store bound for the lifecycle: its writer, how to read records' current text, a
    label for messages, a ledger key where the store has no location of its own, and
    (where the framework needs them) readers of whole records or framework nodes."""

    writer: StoreWriter
    #: The framework's class name (``ChromaVectorStore``, ``Chroma``): what messages say.
    label: str
    #: One request's text reader (id -> text); :meth:`texts` cuts calls to the limits.
    read_texts: Callable[[list[str]], Mapping[str, str]] | None = None
    #: A stable ledger key for a store without a location (a LlamaIndex ``index_id``).
    key: str | None = None
    #: Every record, page by page (LangChain fits that read the store).
    records: Callable[[], Iterator[list[Record]]] | None = None
    #: Framework nodes by id, one request (LlamaIndex stores that keep text).
    read_nodes: Callable[[list[str]], list[Any]] | None = None
    #: Saves the store after a change (a FAISS index file), or None.
    save: Callable[[], None] | None = None
    #: Why the writer's ``similarity`` is unknown, and how to set it (for messages).
    metric_note: str | None = None

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        """Current text of ``ids`` (absent ids left out), within the store's read limit."""
        if self.read_texts is None:
            return {}
        return read_batched(self.read_texts, ids, self.writer.limits.read)

    @property
    def text_reader(self) -> TextReader:
        """:meth:`texts`, or None where the store cannot tell records' text."""
        return self.texts if self.read_texts is not None else None

    def nodes(self, ids: Sequence[str]) -> list[Any]:
        """Framework nodes of ``ids`` the store holds, within its read limit."""
        if self.read_nodes is None:
            return []
        out: list[Any] = []
        size = self.writer.limits.read
        for start in range(0, len(ids), size):
            out.extend(self.read_nodes(list(ids[start : start + size])))
        return out
