"""Embedding texts and queries with any LlamaIndex ``BaseEmbedding``: batched, cached.

Record texts go through ``get_text_embedding_batch`` (the model's own batching, with a
progress bar). Queries go through ``aget_query_embedding`` concurrently, so models that
prefix queries with an instruction (BGE, E5, ...) embed them as they will be at search
time. Both are cached by text, so refits and grown corpora never embed a text twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from numpy.typing import NDArray

from nudge_integrations.core.async_utils import run_sync


class EmbeddingCache:
    """Text -> vector caches for records and queries of one embedding model."""

    def __init__(
        self, embed_model: BaseEmbedding, *, show_progress: bool = False, max_concurrency: int = 8
    ) -> None:
        self.embed_model = embed_model
        self.show_progress = show_progress
        self.max_concurrency = max_concurrency
        self.texts: dict[str, NDArray[np.float32]] = {}
        self.queries: dict[str, NDArray[np.float32]] = {}

    def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Record embeddings (rows in the order of ``texts``)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.texts))
        if missing:
            vectors = self.embed_model.get_text_embedding_batch(
                missing, show_progress=self.show_progress
            )
            for text, vec in zip(missing, vectors, strict=True):
                self.texts[text] = np.asarray(vec, dtype=np.float32)
        return _stack([self.texts[t] for t in texts])

    def embed_queries(self, queries: Sequence[str]) -> NDArray[np.float32]:
        """Query embeddings (rows in the order of ``queries``), fetched concurrently."""
        missing = list(dict.fromkeys(q for q in queries if q not in self.queries))
        if missing:
            self._keep(missing, run_sync(self._aembed_queries(missing)))
        return _stack([self.queries[q] for q in queries])

    async def aembed_queries(self, queries: Sequence[str]) -> NDArray[np.float32]:
        """:meth:`embed_queries` on the caller's event loop."""
        missing = list(dict.fromkeys(q for q in queries if q not in self.queries))
        if missing:
            self._keep(missing, await self._aembed_queries(missing))
        return _stack([self.queries[q] for q in queries])

    def _keep(self, texts: list[str], vectors: list[Any]) -> None:
        for text, vec in zip(texts, vectors, strict=True):
            self.queries[text] = np.asarray(vec, dtype=np.float32)

    async def _aembed_queries(self, queries: list[str]) -> list[Any]:
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(text: str) -> Any:
            async with gate:
                return await self.embed_model.aget_query_embedding(text)

        tasks = [one(q) for q in queries]
        if self.show_progress:
            from tqdm.asyncio import tqdm_asyncio

            return list(await tqdm_asyncio.gather(*tasks, desc="Embedding queries"))
        return list(await asyncio.gather(*tasks))


def _stack(rows: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.ascontiguousarray(np.stack(rows), dtype=np.float32)
