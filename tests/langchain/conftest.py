"""LangChain fixtures: an offline hashing Embeddings and a small real corpus with QA pairs."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from nudge_integrations.data.pseudo_queries import inverse_cloze
from nudge_integrations.data.splits import paper_split
from nudge_integrations.demo import python_docs_corpus

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
        return hash_embed(text).tolist()


@pytest.fixture
def embeddings() -> HashEmbeddings:
    return HashEmbeddings()


@pytest.fixture(scope="session")
def qa() -> dict[str, Any]:
    """Documents from Python's help topics, inverse-cloze questions, the paper's split."""
    dataset = inverse_cloze(python_docs_corpus(max_passages=80), per_doc=4)
    parts = paper_split(dataset)
    docs = [
        Document(id=doc_id, page_content=text, metadata={"topic": doc_id.rsplit("-", 1)[0]})
        for doc_id, text in dataset.corpus.items()
    ]

    def pairs(name: str) -> list[tuple[str, list[str]]]:
        ds = parts[name]  # a list keeps questions whose text repeats across documents
        return [(ds.queries[q], ds.relevant_docs[q]) for q in ds.query_ids]

    return {"docs": docs, "dim": DIM, **parts, "pairs": pairs}
