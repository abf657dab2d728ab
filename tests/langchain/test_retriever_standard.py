"""LangChain's standard retriever suite, subclassed as langchain-tests intends."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from nudge_integrations.langchain import NudgeRetriever

from ..hashing import hash_embed
from .conftest import HashEmbeddings

TEXTS = [
    "NUDGE moves record embeddings toward their training queries.",
    "LangChain retrievers return documents for a query.",
    "Vector stores keep embeddings and serve nearest neighbours.",
    "Inner product ranking is needed for NUDGE-M vectors.",
    "SciFact is a dataset of scientific claims and abstracts.",
]


class TestNudgeRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[NudgeRetriever]:
        return NudgeRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        docs = [Document(id=f"d{i}", page_content=t) for i, t in enumerate(TEXTS)]
        return {
            "documents": docs,
            "vectors": [hash_embed(t).tolist() for t in TEXTS],
            "embeddings": HashEmbeddings(),
        }

    @property
    def retriever_query_example(self) -> str:
        return "Which ranking do NUDGE-M vectors need?"
