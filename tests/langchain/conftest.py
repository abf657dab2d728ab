"""LangChain fixtures: an offline hashing Embeddings and a small real corpus with QA pairs."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from ..corpus import python_docs_qa, topic
from ..hashing import DIM, hash_embed


class HashEmbeddings(Embeddings):
    """Deterministic offline embeddings that count their calls."""

    def __init__(self) -> None:
        self.document_calls = 0
        self.query_calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls += len(texts)
        return [hash_embed(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        return [float(x) for x in hash_embed(text)]


@pytest.fixture
def embeddings() -> HashEmbeddings:
    return HashEmbeddings()


@pytest.fixture(scope="session")
def qa() -> dict[str, Any]:
    """Documents from Python's help topics, inverse-cloze questions, the paper's split."""
    dataset, parts = python_docs_qa()
    docs = [
        Document(id=doc_id, page_content=text, metadata={"topic": topic(doc_id)})
        for doc_id, text in dataset.corpus.items()
    ]

    def pairs(name: str) -> list[tuple[str, list[str]]]:
        ds = parts[name]  # a list keeps questions whose text repeats across documents
        return [(ds.queries[q], ds.relevant_docs[q]) for q in ds.query_ids]

    return {"docs": docs, "dim": DIM, **parts, "pairs": pairs}
