"""LlamaIndex fixtures: an offline hashing embed model and a small real corpus with QA pairs."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode

from ..corpus import python_docs_qa, topic
from ..hashing import DIM, hash_embed


class HashEmbedding(BaseEmbedding):
    """Deterministic offline embeddings; counts calls so tests can check caching."""

    text_calls: int = 0
    query_calls: int = 0

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def _get_text_embedding(self, text: str) -> list[float]:
        self.text_calls += 1
        return hash_embed(text).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        self.query_calls += 1
        return hash_embed(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


@pytest.fixture
def embed_model() -> HashEmbedding:
    return HashEmbedding(embed_batch_size=16)


@pytest.fixture(scope="session")
def qa() -> dict[str, Any]:
    """Nodes from Python's help topics, inverse-cloze questions, the paper's split."""
    dataset, parts = python_docs_qa()
    nodes = [
        TextNode(id_=doc_id, text=text, metadata={"topic": topic(doc_id)})
        for doc_id, text in dataset.corpus.items()
    ]
    return {"nodes": nodes, **parts, "all": dataset, "dim": DIM}
