"""Recall of a store's own search against exact search: Chroma HNSW (before a swap,
after it, after a revert), an exact InMemoryVectorStore, and a Milvus Lite rebuild."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.langchain import NudgeFitter, index_recall
from nudge_integrations.stores.recall import exact_ids, rebuild_index, recall_at_k

from ..optional import need
from .conftest import HashEmbeddings
from .stored import writer_of
from .test_stores import milvus_client_alias  # noqa: F401  (the pymilvus alias fix)

_names = itertools.count()


def _name() -> str:
    return f"recall_{next(_names)}_{uuid.uuid4().hex[:8]}"


def hit_id(doc: Document) -> str:
    return str(doc.id or doc.metadata.get("pk") or doc.metadata.get("_id"))


def test_recall_at_k_by_hand() -> None:
    assert recall_at_k([["a", "b"], ["c", "x"]], [["a", "b"], ["c", "d"]], 2) == 0.75
    assert recall_at_k([["b", "a", "z"]], [["a", "b", "c"]], 2) == 1.0
    with pytest.raises(NudgeError, match="one per query"):
        recall_at_k([["a"]], [], 1)
    with pytest.raises(NudgeError, match="positive integer"):
        recall_at_k([["a"]], [["a"]], 0)


def test_exact_store_has_recall_one(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"])
    questions = [q for q, _ in qa["pairs"]("test")]
    assert index_recall(store, questions, k=10) == 1.0
    vecs = np.asarray([embeddings.embed_query(q) for q in questions[:5]], np.float32)
    assert index_recall(store, vecs, k=5) == 1.0  # vectors work too
    with pytest.raises(NudgeError, match="all strings or all vectors"):
        index_recall(store, ["a", [0.0] * qa["dim"]])


def test_chroma_recall_before_swap_after_and_after_revert(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    chromadb = need("chromadb")
    mod = need("langchain_chroma")
    store = mod.Chroma(
        collection_name=_name(),
        embedding_function=embeddings,
        client=chromadb.PersistentClient(path=str(tmp_path / "chroma")),
        collection_metadata={"hnsw:space": "cosine"},
    )
    store.add_documents(qa["docs"])
    pairs = qa["pairs"]
    questions = [q for q, _ in pairs("test")]
    before = index_recall(store, questions, k=10)
    fitter = NudgeFitter(embeddings).fit(store, pairs("train"), val=pairs("val"))
    fitter.swap_in(store)
    swapped = index_recall(store, questions, k=10)
    fitter.revert(store)
    reverted = index_recall(store, questions, k=10)
    for value in (before, swapped, reverted):
        assert 0.0 <= value <= 1.0
    # the result equals a hand computation on one query
    vec = embeddings.embed_query(questions[0])
    served = {hit_id(d) for d in store.similarity_search_by_vector(vec, k=10)}
    writer = writer_of(store)
    held = writer.read(writer.all_ids())
    ids = list(held)
    mat = np.stack([held[i] for i in ids])
    q = np.asarray(vec, np.float32)
    cos = mat @ q / (np.linalg.norm(mat, axis=1) * np.linalg.norm(q))
    truth = {ids[r] for r in np.argsort(-cos)[:10]}
    assert index_recall(store, questions[:1], k=10) == len(served & truth) / 10
    # exact against itself is 1.0
    exact = exact_ids(writer, np.asarray([vec]), 10)
    assert set(exact[0]) == truth
    assert recall_at_k(exact, exact, 10) == 1.0


@pytest.mark.slow
def test_milvus_rebuild_index(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path, request: Any
) -> None:
    need("milvus_lite")
    mod = need("langchain_milvus")
    request.getfixturevalue("milvus_client_alias")
    store = mod.Milvus(
        embeddings,
        collection_name=_name(),
        connection_args={"uri": str(tmp_path / "m.db")},
        auto_id=False,
        index_params={"metric_type": "COSINE", "index_type": "FLAT"},
    )
    docs = qa["docs"]
    store.add_documents(docs, ids=[d.id for d in docs])
    questions = [q for q, _ in qa["pairs"]("test")][:20]
    assert index_recall(store, questions, k=10) == 1.0
    writer = writer_of(store)
    rebuild_index(writer)
    client, name = store.client, store.collection_name
    indexes = client.list_indexes(name)
    assert indexes
    info = client.describe_index(name, indexes[0])
    assert info["index_type"] == "FLAT" and info["metric_type"] == "COSINE"
    assert index_recall(store, questions, k=10) == 1.0


def test_rebuild_refuses_other_stores(qa: dict[str, Any], embeddings: HashEmbeddings) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(qa["docs"][:3])
    with pytest.raises(NudgeError, match="new collection"):
        rebuild_index(writer_of(store))
