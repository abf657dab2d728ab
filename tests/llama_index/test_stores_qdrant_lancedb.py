"""LlamaIndex's Qdrant (local mode) and LanceDB (a local folder) stores: fit from the
store's vectors, swap in, retrieve through LlamaIndex's own retriever, reopen in a new
process, revert to the exact base vectors; NUDGE-M only where the store ranks by dot."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode

from nudge_integrations.core.errors import MetricMismatchError, NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import NudgeFinetuneEngine
from nudge_integrations.stores import registry

from ..optional import need
from ..tiers import slow_for
from .conftest import HashEmbedding

ROOT = Path(__file__).resolve().parents[2]
_names = itertools.count()


def uuid_id(doc_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, doc_id))


def uuid_qa(qa: dict[str, Any]) -> dict[str, Any]:
    """The corpus and QA splits with UUID node ids (Qdrant accepts nothing else)."""

    def remap(ds: QADataset) -> QADataset:
        return QADataset(
            ds.queries,
            {uuid_id(k): v for k, v in ds.corpus.items()},
            {q: [uuid_id(d) for d in rel] for q, rel in ds.relevant_docs.items()},
        )

    nodes = [
        TextNode(id_=uuid_id(n.node_id), text=n.text, metadata=n.metadata) for n in qa["nodes"]
    ]
    return {"nodes": nodes, **{k: remap(qa[k]) for k in ("train", "val", "test")}}


@pytest.fixture(scope="module")
def uqa(qa: dict[str, Any]) -> dict[str, Any]:
    return uuid_qa(qa)


def _sparse(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
    """A tiny sparse encoder for hybrid stores: hashed word counts."""
    indices, values = [], []
    for text in texts:
        counts: dict[int, float] = {}
        for word in text.lower().split():
            key = int(uuid.uuid5(uuid.NAMESPACE_URL, word)) % 50_000
            counts[key] = counts.get(key, 0.0) + 1.0
        indices.append(list(counts))
        values.append(list(counts.values()))
    return indices, values


def qdrant_store(metric: str, tmp: Path, request: pytest.FixtureRequest, **kw: Any) -> Any:
    qdrant = need("qdrant_client")
    mod = need("llama_index.vector_stores.qdrant")
    from qdrant_client import models

    client = qdrant.QdrantClient(path=str(tmp / "q"))
    request.addfinalizer(client.close)
    distance = models.Distance.DOT if metric == "ip" else models.Distance.COSINE
    return mod.QdrantVectorStore(
        f"nudge{next(_names)}",
        client=client,
        dense_config=models.VectorParams(size=64, distance=distance),
        **kw,
    )


def hybrid_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    return qdrant_store(
        metric, tmp, request, enable_hybrid=True, sparse_doc_fn=_sparse, sparse_query_fn=_sparse
    )


def lancedb_store(metric: str, tmp: Path, request: pytest.FixtureRequest) -> Any:
    mod = need("llama_index.vector_stores.lancedb")
    return mod.LanceDBVectorStore(uri=str(tmp / "lance"), table_name=f"nudge{next(_names)}")


STORES: dict[str, Callable[..., Any]] = {
    "qdrant": qdrant_store,
    "qdrant-hybrid": hybrid_store,
    "lancedb": lancedb_store,
}


@pytest.fixture
def build(
    uqa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[str, str], VectorStoreIndex]:
    """``make(kind, metric)``: an index over the corpus. LanceDB ranks by its vector index's
    metric (``l2`` without one), so ``ip`` / ``cosine`` give it an index of that metric."""

    def make(kind: str, metric: str) -> VectorStoreIndex:
        store = STORES[kind](metric, tmp_path, request)
        ctx = StorageContext.from_defaults(vector_store=store)
        index = VectorStoreIndex(uqa["nodes"], storage_context=ctx, embed_model=embed_model)
        if kind == "lancedb" and metric != "l2":
            from lancedb.index import IvfFlat

            distance = "dot" if metric == "ip" else metric
            config = IvfFlat(distance_type=distance, num_partitions=2)  # type: ignore[arg-type]
            store.table.create_index("vector", config=config)
        return index

    return make


def store_vectors(index: VectorStoreIndex) -> dict[str, np.ndarray]:
    writer = registry.bind(index.vector_store, "llama_index").writer
    return writer.read(writer.all_ids())


def in_new_process(kind: str, store: Any, out: Path) -> dict[str, Any]:
    """Open the store in a new process: its ledger's status and its vectors (to ``out``)."""
    if kind == "qdrant":
        store.client.close()  # a local Qdrant folder admits one client at a time
        where = [str(store.client._client.location), store.collection_name]
    else:
        where = [str(store.uri), str(store._table_name)]
    code = """
import json, sys
import numpy as np
from nudge_integrations.llama_index import status
from nudge_integrations.stores import registry
kind, path, name, out = sys.argv[1:]
if kind == "qdrant":
    from qdrant_client import QdrantClient
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    store = QdrantVectorStore(name, client=QdrantClient(path=path))
else:
    from llama_index.vector_stores.lancedb import LanceDBVectorStore
    store = LanceDBVectorStore(uri=path, table_name=name)
st = status(store)
writer = registry.bind(store, "llama_index").writer
vectors = writer.read(writer.all_ids())
np.savez(out, ids=np.asarray(list(vectors)), vectors=np.stack(list(vectors.values())))
print(json.dumps({"state": st.state, "nudged": len(st.nudged), "metric": writer.similarity}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code, kind, *where, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    got = np.load(out)
    seen["vectors"] = {str(i): v for i, v in zip(got["ids"], got["vectors"], strict=True)}
    return seen


def reopen(kind: str, store: Any, embed_model: HashEmbedding) -> VectorStoreIndex:
    """The same store opened again in this process (Qdrant: a new local client)."""
    if kind == "qdrant":
        from llama_index.vector_stores.qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient

        client = QdrantClient(path=str(store.client._client.location))
        store = QdrantVectorStore(store.collection_name, client=client)
    return VectorStoreIndex.from_vector_store(store, embed_model=embed_model)


def agreement(index: VectorStoreIndex, eng: NudgeFinetuneEngine, test: QADataset) -> float:
    """How often LlamaIndex's own retriever's top-1 is the exact nudged ranking's."""
    exact = eng.as_retriever(similarity_top_k=1)
    served = index.as_retriever(similarity_top_k=1)
    same = [
        served.retrieve(test.queries[q])[0].node.node_id
        == exact.retrieve(test.queries[q])[0].node.node_id
        for q in test.query_ids
    ]
    return sum(same) / len(same)


def assert_serves_nudged(
    index: VectorStoreIndex, eng: NudgeFinetuneEngine, qa: dict[str, Any], query: str
) -> Any:
    """The index's own retriever serves the nudged ranking (top-1 agrees with the exact
    retriever on 95% of the test queries), and its hit for ``query`` comes back with the
    text and metadata it was indexed with; returns that hit."""
    assert agreement(index, eng, qa["test"]) >= 0.95
    hit = index.as_retriever(similarity_top_k=1).retrieve(query)[0].node
    original = next(n for n in qa["nodes"] if n.node_id == hit.node_id)
    assert hit.get_content() == original.get_content() and hit.metadata == original.metadata
    return hit


@pytest.mark.parametrize("kind", slow_for(sorted(STORES), ("qdrant", "lancedb")))
def test_nudge_n_round_trip(
    kind: str,
    build: Callable[[str, str], VectorStoreIndex],
    uqa: dict[str, Any],
    embed_model: HashEmbedding,
    tmp_path: Path,
) -> None:
    index = build(kind, "ip")
    ids = [n.node_id for n in uqa["nodes"]]
    base = store_vectors(index)
    assert sorted(base) == sorted(ids)
    assert registry.bind(index.vector_store, "llama_index").writer.similarity == "dot"
    calls = embed_model.text_calls
    eng = NudgeFinetuneEngine(uqa["train"], embed_model, corpus=index, val_dataset=uqa["val"])
    eng.finetune()
    assert embed_model.text_calls == calls, "vectors already in the store must be reused"
    assert sorted(eng.node_ids) == sorted(ids)
    written = eng.apply_to_index(index)
    assert written
    nudged = eng.get_finetuned_corpus_embeddings()
    now = store_vectors(index)
    for nid in ids:
        np.testing.assert_array_equal(now[nid], nudged[nid] if nid in written else base[nid])
    assert_serves_nudged(index, eng, uqa, "the with statement")
    if kind != "qdrant-hybrid":  # a new process sees the nudged vectors and the ledger
        seen = in_new_process(kind, index.vector_store, tmp_path / "seen.npz")
        assert seen["state"] == "nudged" and seen["nudged"] == len(written)
        assert seen["metric"] == "dot"
        for nid in ids:
            np.testing.assert_array_equal(seen["vectors"][nid], now[nid])
        index = reopen(kind, index.vector_store, embed_model)
    eng.persist(tmp_path / "engine")
    back = NudgeFinetuneEngine.from_persist_dir(tmp_path / "engine", embed_model)
    back.revert_index(index)
    restored = store_vectors(index)
    for nid in ids:
        np.testing.assert_array_equal(restored[nid], base[nid])


@pytest.mark.parametrize("kind", ["qdrant", "lancedb"])
def test_nudge_m_goes_into_dot_stores(
    kind: str,
    build: Callable[[str, str], VectorStoreIndex],
    uqa: dict[str, Any],
    embed_model: HashEmbedding,
) -> None:
    index = build(kind, "ip")
    base = store_vectors(index)
    eng = NudgeFinetuneEngine(
        uqa["train"], embed_model, corpus=index, val_dataset=uqa["val"], variant="M"
    )
    eng.finetune()
    written = eng.apply_to_index(index)
    now, nudged = store_vectors(index), eng.get_finetuned_corpus_embeddings()
    for nid in written:
        np.testing.assert_array_equal(now[nid], nudged[nid])
    assert agreement(index, eng, uqa["test"]) >= 0.95  # ranked by dot, norms and all
    eng.revert_index(index)
    for nid, vec in store_vectors(index).items():
        np.testing.assert_array_equal(vec, base[nid])


@pytest.mark.parametrize(
    "kind,metric", [("qdrant", "cosine"), ("lancedb", "l2"), ("lancedb", "cosine")]
)
def test_nudge_m_refused_by_other_metrics(
    kind: str,
    metric: str,
    build: Callable[[str, str], VectorStoreIndex],
    uqa: dict[str, Any],
    embed_model: HashEmbedding,
) -> None:
    index = build(kind, metric)
    assert registry.bind(index.vector_store, "llama_index").writer.similarity == metric
    before = store_vectors(index)
    eng = NudgeFinetuneEngine(
        uqa["train"], embed_model, corpus=index, val_dataset=uqa["val"], variant="M"
    )
    eng.finetune()
    with pytest.raises(MetricMismatchError, match=f"ranks by {metric}"):
        eng.apply_to_index(index)
    after = store_vectors(index)
    for nid, vec in after.items():
        np.testing.assert_array_equal(vec, before[nid])


def test_qdrant_says_how_to_map_ids_that_are_not_uuids(
    build: Callable[[str, str], VectorStoreIndex],
    qa: dict[str, Any],
    embed_model: HashEmbedding,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    index = build("qdrant", "ip")  # UUID node ids; the engine below has BEIR-style ones
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"], val_dataset=qa["val"])
    eng.finetune()
    with pytest.raises(UnknownIdError, match=r"uuid5\(uuid.NAMESPACE_URL"):
        eng.apply_to_index(index)
    # Documents keep BEIR-style ids as ref_doc_id of UUID nodes, which the QA data finds
    from llama_index.core import Document

    docs = [Document(id_=n.node_id, text=n.text) for n in qa["nodes"]]
    store = qdrant_store("ip", tmp_path / "docs", request)
    ctx = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=embed_model)
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    assert eng.apply_to_index(index).written


def test_qdrant_collections_without_the_dense_vector_are_refused(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = qdrant_store("ip", tmp_path, request)
    from qdrant_client import models

    client, mod = store.client, sys.modules[type(store).__module__]
    with pytest.raises(NudgeError, match="does not exist yet"):
        registry.bind(store, "llama_index")
    client.create_collection(
        "sparse", vectors_config={}, sparse_vectors_config={"s": models.SparseVectorParams()}
    )
    with pytest.raises(NudgeError, match="sparse vectors only"):
        registry.bind(mod.QdrantVectorStore("sparse", client=client), "llama_index")
    client.create_collection(
        "named", vectors_config={"other": models.VectorParams(size=4, distance="Dot")}
    )
    with pytest.raises(NudgeError, match="'other' but the store queries 'text-dense'"):
        registry.bind(mod.QdrantVectorStore("named", client=client), "llama_index")
    named = mod.QdrantVectorStore("named", client=client, dense_vector_name="other")
    assert registry.bind(named, "llama_index").writer.similarity == "dot"
