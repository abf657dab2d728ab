"""Questions embedded with any LangChain ``Embeddings``: ``embed_query`` on threads (or
``embed_documents`` in batches), sync or async, cached by text."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError


class QueryEmbedder:
    """Text -> vector cache of one model's question embeddings."""

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        as_documents: bool = False,
        batch_size: int = 64,
        concurrency: int = 8,
        show_progress: bool = False,
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise NudgeError(
                f"batch_size and concurrency must be positive, got {batch_size} and {concurrency}"
            )
        self.embeddings = embeddings
        self.as_documents = as_documents
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.show_progress = show_progress
        self.cache: dict[str, NDArray[np.float32]] = {}

    def _missing(self, texts: Sequence[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if t not in self.cache]

    def _store(self, texts: list[str], vectors: Sequence[Sequence[float]]) -> None:
        for text, vec in zip(texts, vectors, strict=True):
            self.cache[text] = np.asarray(vec, dtype=np.float32)

    def matrix(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Rows for ``texts`` (embedding those not cached yet)."""
        self.embed(texts)
        return np.stack([self.cache[t] for t in texts]).astype(np.float32)

    def _bar(self, total: int) -> Any:
        if not self.show_progress or not total:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="embedding questions", unit="q")

    def embed(self, texts: Sequence[str]) -> None:
        """Embed the uncached ``texts``: in batches (``as_documents``) or ``embed_query``
        on ``concurrency`` threads (the model may release the GIL or call an API)."""
        todo = self._missing(texts)
        if not todo:
            return
        bar = self._bar(len(todo))
        out: list[list[float]] = []
        try:
            if self.as_documents:
                for start in range(0, len(todo), self.batch_size):
                    chunk = todo[start : start + self.batch_size]
                    out.extend(self.embeddings.embed_documents(chunk))
                    if bar is not None:
                        bar.update(len(chunk))
            else:
                with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                    for vec in pool.map(self.embeddings.embed_query, todo):
                        out.append(vec)
                        if bar is not None:
                            bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        self._store(todo, out)

    async def aembed(self, texts: Sequence[str]) -> None:
        """:meth:`embed` with ``aembed_documents`` in batches, or ``aembed_query``
        ``concurrency`` at a time."""
        todo = self._missing(texts)
        if not todo:
            return
        bar = self._bar(len(todo))
        gate = asyncio.Semaphore(self.concurrency)

        async def one(text: str) -> list[float]:
            async with gate:
                vec = await self.embeddings.aembed_query(text)
            if bar is not None:
                bar.update(1)
            return vec

        try:
            if self.as_documents:
                out: list[list[float]] = []
                for start in range(0, len(todo), self.batch_size):
                    chunk = todo[start : start + self.batch_size]
                    out.extend(await self.embeddings.aembed_documents(chunk))
                    if bar is not None:
                        bar.update(len(chunk))
            else:
                out = list(await asyncio.gather(*(one(t) for t in todo)))
        finally:
            if bar is not None:
                bar.close()
        self._store(todo, out)
