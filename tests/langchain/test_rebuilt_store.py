"""A store rebuilt with another embedding model where its ledger lives: ``status`` and
``revert`` name the two dimensions before anything is written, instead of calling the
records overwritten and then failing inside the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from nudge_integrations.core.errors import ShapeError
from nudge_integrations.langchain import NudgeFitter, revert, status

from ..hashing import DIM, hash_embed
from ..optional import need
from .conftest import HashEmbeddings


class Small(Embeddings):
    """Another model: 16-d vectors."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in hash_embed(t, dim=16)] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_status_and_revert_name_the_other_dimension(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    mod = need("langchain_chroma")
    chromadb = need("chromadb")
    docs = [Document(id=d.id, page_content=d.page_content) for d in qa["docs"]]
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    store = mod.Chroma("docs", embeddings, client=client)
    store.add_documents(docs)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    assert fitter.swap_in(store).written
    client.delete_collection("docs")  # rebuilt at the same place with another model
    rebuilt = mod.Chroma("docs", Small(), client=client)
    rebuilt.add_documents(docs)
    before = rebuilt.get(include=["embeddings"])["embeddings"]
    for call in (lambda: status(rebuilt), lambda: revert(rebuilt), lambda: fitter.revert(rebuilt)):
        with pytest.raises(ShapeError, match=rf"holds 16-d vectors but its nudge ledger .* {DIM}-d"):
            call()
    np.testing.assert_array_equal(rebuilt.get(include=["embeddings"])["embeddings"], before)
