"""LlamaIndex indexes over each store under a folder, built from the problem or reopened
in a new process, as a LlamaIndex user builds and reopens them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from production.data import Problem
from production.handle import Handle, chunks, milvus_closer
from production.lc import PG_URL_ENV, chroma_client


def nodes(p: Problem, part: slice) -> list[Any]:
    """Text nodes of ``part`` carrying their vectors (nothing is embedded again)."""
    from llama_index.core.schema import TextNode

    return [
        TextNode(id_=p.ids[n], text=p.texts[n], metadata={"n": n}, embedding=p.base[n].tolist())
        for n in range(part.start, part.stop)
    ]


def _over(store: Any, p: Problem, emb: Any, build: bool) -> Any:
    """A ``VectorStoreIndex`` over a text-keeping store (nodes added first when building)."""
    from llama_index.core import VectorStoreIndex

    if build:
        for s in chunks(len(p.ids)):
            store.add(nodes(p, s))
    return VectorStoreIndex.from_vector_store(store, embed_model=emb)


def open_llama_index(kind: str, p: Problem, root: Path, emb: Any, build: bool) -> Handle:
    """The LlamaIndex index of ``kind`` under ``root`` (built from ``p`` when ``build``)."""
    if kind in ("chroma", "chroma-server"):
        from llama_index.vector_stores.chroma import ChromaVectorStore

        col = chroma_client(kind, root).get_or_create_collection("bench")
        index = _over(ChromaVectorStore(chroma_collection=col), p, emb, build)
        return Handle(index, "llama_index", kind, notes={"space": "l2 (default)"})
    if kind == "qdrant":
        from llama_index.vector_stores.qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient

        client = QdrantClient(path=str(root / "qdrant"))
        store: Any = QdrantVectorStore("bench", client=client, batch_size=1000)
        notes = {"distance": "COSINE (default)", "mode": "local path"}
        return Handle(_over(store, p, emb, build), "llama_index", kind, close=client.close,
                      tolerance=1e-6, notes=notes)  # fmt: skip
    if kind == "lancedb":
        from llama_index.vector_stores.lancedb import LanceDBVectorStore

        store = LanceDBVectorStore(uri=str(root / "lance"), table_name="bench")
        return Handle(_over(store, p, emb, build), "llama_index", kind,
                      notes={"distance": "l2 (default), no index"})  # fmt: skip
    if kind == "pgvector":
        from llama_index.vector_stores.postgres import PGVectorStore

        url = os.environ[PG_URL_ENV]
        store = PGVectorStore(
            connection_string=url.replace("postgresql://", "postgresql+psycopg2://", 1),
            async_connection_string=url.replace("postgresql://", "postgresql+asyncpg://", 1),
            table_name="bench",
            embed_dim=p.base.shape[1],
        )
        return Handle(_over(store, p, emb, build), "llama_index", kind,
                      notes={"distance": "cosine (default), no index"})  # fmt: skip
    if kind == "milvus":
        from llama_index.vector_stores.milvus import MilvusVectorStore

        store = MilvusVectorStore(
            uri=str(root / "milvus.db"),
            dim=p.base.shape[1],
            overwrite=build,
            similarity_metric="IP",
            index_config={"index_type": "FLAT", "metric_type": "IP"},
        )
        return Handle(_over(store, p, emb, build), "llama_index", kind,
                      close=milvus_closer(store.client, root / "milvus.db"),
                      notes={"index": "FLAT, IP", "mode": "Milvus Lite file"})  # fmt: skip
    if kind in ("memory", "faiss"):
        return _persisted(kind, p, root, emb, build)
    raise SystemExit(f"no LlamaIndex store {kind!r}")


def _persisted(kind: str, p: Problem, root: Path, emb: Any, build: bool) -> Handle:
    """``SimpleVectorStore`` or a flat FAISS index, persisted with the index's storage
    context (the ledger is keyed by the index id, under ``$NUDGE_LEDGER_DIR``)."""
    from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage

    persist = str(root / "storage")
    ctx: Any
    index: Any
    if kind == "faiss":
        import faiss
        from llama_index.vector_stores.faiss import FaissVectorStore

        if build:
            store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(p.base.shape[1]))
            ctx = StorageContext.from_defaults(vector_store=store)
        else:
            store = FaissVectorStore.from_persist_dir(persist)
            ctx = StorageContext.from_defaults(vector_store=store, persist_dir=persist)
        notes = {"index": "IndexFlatIP", "saved": "storage_context.persist"}
    else:
        ctx = None if build else StorageContext.from_defaults(persist_dir=persist)
        notes = {"saved": "storage_context.persist (JSON)"}
    if build:
        index = VectorStoreIndex(nodes(p, slice(0, len(p.ids))), storage_context=ctx,
                                 embed_model=emb, insert_batch_size=8192)  # fmt: skip
    else:
        index = load_index_from_storage(ctx, embed_model=emb)
    return Handle(index, "llama_index", kind, None,
                  lambda: index.storage_context.persist(persist), notes=notes)  # fmt: skip
