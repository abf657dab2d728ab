"""LangChain vector stores under a folder, built from the problem or reopened in a new
process, as a LangChain user builds and reopens them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from production.data import Problem
from production.handle import Handle, chunks, milvus_closer

#: Environment variable that hands the benchmark's PostgreSQL URL to child processes.
PG_URL_ENV = "NUDGE_BENCH_PG_URL"
#: Environment variable naming a ``chroma run`` server (host:port) for child processes.
CHROMA_SERVER_ENV = "NUDGE_BENCH_CHROMA_SERVER"


def _add(store: Any, p: Problem, **kwargs: Any) -> None:
    for s in chunks(len(p.ids)):
        metas = [{"n": n} for n in range(s.start, s.stop)]
        store.add_texts(p.texts[s], metadatas=metas, ids=p.ids[s], **kwargs)


def chroma_client(kind: str, root: Path) -> Any:
    """A persistent client on ``root/chroma``, or an HttpClient to the benchmark's server."""
    import chromadb

    if kind == "chroma-server":
        host, port = os.environ[CHROMA_SERVER_ENV].rsplit(":", 1)
        return chromadb.HttpClient(host=host, port=int(port))
    return chromadb.PersistentClient(path=str(root / "chroma"))


def open_langchain(kind: str, p: Problem, root: Path, emb: Any, build: bool) -> Handle:
    """The LangChain store of ``kind`` under ``root`` (built from ``p`` when ``build``)."""
    if kind in ("chroma", "chroma-server"):
        from langchain_chroma import Chroma

        client = chroma_client(kind, root)
        store: Any = Chroma("bench", embedding_function=emb, client=client)
        if build:
            _add(store, p)
        return Handle(store, "langchain", kind, notes={"space": "l2 (default)"})
    if kind == "milvus":
        return _milvus(p, root, emb, build)
    if kind == "qdrant":
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=str(root / "qdrant"))
        if build:
            client.create_collection(
                "bench",
                vectors_config=models.VectorParams(
                    size=p.base.shape[1], distance=models.Distance.COSINE
                ),
            )
        store = QdrantVectorStore(client, "bench", emb)
        if build:
            _add(store, p, batch_size=1000)
        # cosine collections store vectors normalised: read back within float32 rounding
        return Handle(store, "langchain", kind, close=client.close, tolerance=1e-6,
                      notes={"distance": "COSINE (default)", "mode": "local path"})  # fmt: skip
    if kind == "lancedb":
        from langchain_community.vectorstores import LanceDB

        # mode "append": the store's default, "overwrite", keeps only the last add_texts
        store = LanceDB(uri=str(root / "lance"), embedding=emb, table_name="bench", mode="append")
        if build:
            _add(store, p)
        return Handle(store, "langchain", kind, notes={"distance": "l2 (default), no index"})
    if kind == "pgvector":
        from langchain_postgres import PGVector

        url = os.environ[PG_URL_ENV].replace("postgresql://", "postgresql+psycopg://", 1)
        store = PGVector(emb, connection=url, collection_name="bench", use_jsonb=True)
        if build:
            _add(store, p)
        return Handle(store, "langchain", kind, notes={"distance": "cosine (default), no index"})
    ledger = root / "ledger"  # in-memory stores: the ledger's path is named
    if kind == "faiss":
        import faiss
        from langchain_community.docstore.in_memory import InMemoryDocstore
        from langchain_community.vectorstores import FAISS

        path = str(root / "faiss")
        if build:
            store = FAISS(emb, faiss.IndexFlatL2(p.base.shape[1]), InMemoryDocstore(), {})
            for s in chunks(len(p.ids)):
                pairs = zip(p.texts[s], p.base[s], strict=True)
                metas = [{"n": n} for n in range(s.start, s.stop)]
                store.add_embeddings(pairs, metadatas=metas, ids=p.ids[s])
        else:
            store = FAISS.load_local(path, emb, allow_dangerous_deserialization=True)
        return Handle(store, "langchain", kind, ledger, lambda: store.save_local(path),
                      notes={"index": "IndexFlatL2", "saved": "save_local"})  # fmt: skip
    if kind == "memory":
        from langchain_core.vectorstores import InMemoryVectorStore

        path = str(root / "memory.json")
        if build:
            store = InMemoryVectorStore(emb)
            _add(store, p)
        else:
            store = InMemoryVectorStore.load(path, emb)
        return Handle(store, "langchain", kind, ledger, lambda: store.dump(path),
                      notes={"saved": "dump / load (JSON)"})  # fmt: skip
    raise SystemExit(f"no LangChain store {kind!r}")


def _milvus(p: Problem, root: Path, emb: Any, build: bool) -> Handle:
    """Milvus Lite through ``langchain_milvus``, FLAT index, inner product (exact)."""
    import langchain_milvus.vectorstores.milvus as mod
    from langchain_milvus import Milvus
    from pymilvus import connections

    base_client = mod.MilvusClient  # type: ignore[attr-defined]

    class Client(base_client):  # type: ignore[misc,valid-type]
        """Registers its connection alias, as langchain_milvus 0.3 expects (as in
        tests/faults/worker.py)."""

        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            if getattr(self, "_using", None) and getattr(self, "_handler", None):
                connections._alias_handlers.setdefault(self._using, self._handler)

    mod.MilvusClient = Client  # type: ignore[attr-defined]
    store = Milvus(
        emb,
        collection_name="bench",
        connection_args={"uri": str(root / "milvus.db")},
        auto_id=False,
        index_params={"metric_type": "IP", "index_type": "FLAT"},
    )
    if build:
        _add(store, p)
    close = milvus_closer(store.client, root / "milvus.db")
    return Handle(store, "langchain", "milvus", close=close,
                  notes={"index": "FLAT, IP", "mode": "Milvus Lite file"})  # fmt: skip
