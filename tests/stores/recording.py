"""A store client (or table) wrapped so a test sees the size of every request it gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hashing import hash_embed


class Recording:
    """``inner`` with the calls named in ``sizes`` recorded as (name, size) in
    :attr:`requests`; ``sizes[name](*args, **kwargs)`` says how big a request is. Every
    other attribute is ``inner``'s."""

    def __init__(self, inner: Any, sizes: dict[str, Callable[..., int]]) -> None:
        self._inner = inner
        self._sizes = sizes
        self.requests: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        size = self._sizes.get(name)
        if size is None:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.requests.append((name, size(*args, **kwargs)))
            return attr(*args, **kwargs)

        return call

    def largest(self, *names: str) -> int:
        """The largest recorded request among those calls (0 when none was made)."""
        return max((n for call, n in self.requests if call in names), default=0)

    def count(self, *names: str) -> int:
        """How many of those calls were made."""
        return sum(1 for call, _ in self.requests if call in names)


def hash_embeddings() -> Any:
    """Deterministic offline LangChain embeddings (the tests' hashing embedder)."""
    from langchain_core.embeddings import Embeddings

    class HashEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(v) for v in hash_embed(t)] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return [float(v) for v in hash_embed(text)]

    return HashEmbeddings()
