"""A process the fault tests start (and kill): builds a persistent store, nudges it, checks it.

``python -m tests.faults.worker swap FRAMEWORK KIND ROOT KILL_AT`` builds the store under
ROOT, saves its base vectors and a fit's nudged vectors beside it, then swaps the fit in
four records a batch and SIGKILLs itself at vector write call KILL_AT (0: never), after
that batch's markers are written.
``python -m tests.faults.worker check FRAMEWORK KIND ROOT SEED`` opens the store in a new
process with nothing but the store and its ledger and checks, asserting as it goes:
status says half-swapped; every record is exactly base or exactly nudged; finish or roll
back (SEED picks) gives exactly nudged or base; revert gives the base bit for bit; a
rollback that itself fails is recorded and undone; a refit on a nudged store starts from
the base. On stores that keep markers, every nudged record carries its marker at each
step and none is left after a rollback or revert. Writers are cut to ``BATCH`` records a
write and ``READ`` ids a read. It prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nudge_integrations.stores.base import Limits

from ..corpus import python_docs_qa
from ..hashing import hash_embed

warnings.filterwarnings("ignore")
BATCH = 4
READ = 16
REOPEN = {"faiss", "inmemory", "simple"}


# ----------------------------------------------------------------------------- embeddings
def lc_embeddings() -> Any:
    from langchain_core.embeddings import Embeddings

    class Hash(Embeddings):
        model_name = "hash-64"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [hash_embed(t).tolist() for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return hash_embed(text).tolist()

    return Hash()


def li_embeddings() -> Any:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class Hash(BaseEmbedding):
        def _get_text_embedding(self, text: str) -> list[float]:
            return hash_embed(text).tolist()

        def _get_query_embedding(self, query: str) -> list[float]:
            return hash_embed(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return Hash(model_name="hash-64")


# ----------------------------------------------------------------------------- LangChain
def lc_docs() -> list[Any]:
    from langchain_core.documents import Document

    dataset, _ = python_docs_qa()
    # UUID-shaped ids: Qdrant accepts nothing else, the other stores do not mind
    import uuid

    return [
        Document(id=str(uuid.uuid5(uuid.NAMESPACE_URL, i)), page_content=t, metadata={"k": i})
        for i, t in dataset.corpus.items()
    ]


def lc_pairs(split: str) -> list[tuple[str, list[str]]]:
    import uuid

    _, parts = python_docs_qa()
    ds = parts[split]
    return [
        (ds.queries[q], [str(uuid.uuid5(uuid.NAMESPACE_URL, d)) for d in ds.relevant_docs[q]])
        for q in ds.query_ids
    ]


def lc_open(kind: str, root: Path, build: bool) -> tuple[Any, Callable[[], None], Any]:
    """(store, save, ledger argument) for a LangChain store under ``root``."""
    emb = lc_embeddings()
    docs = lc_docs() if build else []
    if kind == "chroma":
        import chromadb
        from langchain_chroma import Chroma

        client = chromadb.PersistentClient(path=str(root / "chroma"))
        store = Chroma("faults", embedding_function=emb, client=client)
        if build:
            store.add_documents(docs)
        return store, lambda: None, None
    if kind == "milvus":
        import langchain_milvus.vectorstores.milvus as mod
        from langchain_milvus import Milvus
        from pymilvus import connections

        base_client = mod.MilvusClient

        class Client(base_client):  # type: ignore[misc,valid-type]
            def __init__(self, *a: Any, **k: Any) -> None:
                super().__init__(*a, **k)
                if getattr(self, "_using", None) and getattr(self, "_handler", None):
                    connections._alias_handlers.setdefault(self._using, self._handler)

        mod.MilvusClient = Client
        store = Milvus(
            emb,
            collection_name="faults",
            connection_args={"uri": str(root / "m.db")},
            auto_id=False,
            index_params={"metric_type": "IP", "index_type": "FLAT"},
        )
        if build:
            store.add_documents(docs, ids=[d.id for d in docs])
        return store, lambda: None, None
    if kind == "lancedb":
        from langchain_community.vectorstores import LanceDB

        store = LanceDB(uri=str(root / "lance"), embedding=emb, table_name="faults")
        if build:
            store.add_documents(docs)
        return store, lambda: None, None
    if kind == "qdrant":
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=str(root / "q"))
        if build:
            client.create_collection(
                "faults", vectors_config=models.VectorParams(size=64, distance=models.Distance.DOT)
            )
        store = QdrantVectorStore(client, "faults", emb, distance=models.Distance.DOT)
        if build:
            store.add_documents(docs)
        return store, lambda: None, None
    if kind == "pgvector":  # the server the test started: $NUDGE_TEST_PG_URL
        from langchain_postgres import PGVector
        from langchain_postgres.vectorstores import DistanceStrategy

        url = os.environ["NUDGE_TEST_PG_URL"].replace("postgresql://", "postgresql+psycopg://")
        store = PGVector(
            emb,
            connection=url,
            collection_name="faults",
            distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
        )
        if build:
            store.add_documents(docs, ids=[d.id for d in docs])
        return store, lambda: None, None
    ledger = root / "ledger"  # in-memory stores: the ledger's path is named
    if kind == "faiss":
        from langchain_community.vectorstores import FAISS

        if build:
            store = FAISS.from_documents(docs, emb)
        else:
            store = FAISS.load_local(str(root / "faiss"), emb, allow_dangerous_deserialization=True)
        return store, lambda: store.save_local(str(root / "faiss")), ledger
    if kind == "inmemory":
        from langchain_core.vectorstores import InMemoryVectorStore

        if build:
            store = InMemoryVectorStore(emb)
            store.add_documents(docs)
        else:
            store = InMemoryVectorStore.load(str(root / "mem.json"), emb)
        return store, lambda: store.dump(str(root / "mem.json")), ledger
    raise SystemExit(f"unknown LangChain store {kind}")


def lc_vectors(store: Any) -> dict[str, np.ndarray]:
    from nudge_integrations.stores import registry

    writer = registry.bind(store, "langchain").writer
    return writer.read(writer.all_ids())


def lc_writer_class(store: Any) -> type:
    from nudge_integrations.stores import registry

    return type(registry.bind(store, "langchain").writer)


# ----------------------------------------------------------------------------- LlamaIndex
def uuid_id(doc_id: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, doc_id))


def li_parts() -> dict[str, Any]:
    """The QA splits, with the UUID-shaped node ids of :func:`li_open`."""
    from nudge_integrations.data.dataset import QADataset

    _, parts = python_docs_qa()
    return {
        name: QADataset(
            ds.queries,
            {uuid_id(k): v for k, v in ds.corpus.items()},
            {q: [uuid_id(d) for d in rel] for q, rel in ds.relevant_docs.items()},
        )
        for name, ds in parts.items()
    }


def li_open(kind: str, root: Path, build: bool) -> tuple[Any, Callable[[], None], Any]:
    """(index, save, ledger argument) for a LlamaIndex store under ``root``."""
    from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.core.schema import TextNode

    emb = li_embeddings()
    dataset, _ = python_docs_qa()
    # UUID-shaped ids, as for LangChain: Qdrant accepts nothing else
    nodes = [TextNode(id_=uuid_id(i), text=t, metadata={"k": i}) for i, t in dataset.corpus.items()]
    persist = str(root / "storage")
    if kind in ("qdrant", "lancedb"):
        if kind == "qdrant":
            from llama_index.vector_stores.qdrant import QdrantVectorStore
            from qdrant_client import QdrantClient, models

            store: Any = QdrantVectorStore(
                "faults",
                client=QdrantClient(path=str(root / "q")),
                dense_config=models.VectorParams(size=64, distance=models.Distance.DOT),
            )
        else:
            from llama_index.vector_stores.lancedb import LanceDBVectorStore

            store = LanceDBVectorStore(uri=str(root / "lance"), table_name="faults")
        if build:
            ctx = StorageContext.from_defaults(vector_store=store)
            return VectorStoreIndex(nodes, storage_context=ctx, embed_model=emb), lambda: None, None
        return VectorStoreIndex.from_vector_store(store, embed_model=emb), lambda: None, None
    if kind == "pgvector":  # the server the test started: $NUDGE_TEST_PG_URL
        from llama_index.vector_stores.postgres import PGVectorStore

        url = os.environ["NUDGE_TEST_PG_URL"]
        pg = PGVectorStore(
            connection_string=url.replace("postgresql://", "postgresql+psycopg2://"),
            async_connection_string=url.replace("postgresql://", "postgresql+asyncpg://"),
            table_name="faults",
            embed_dim=64,
        )
        if build:
            ctx = StorageContext.from_defaults(vector_store=pg)
            return VectorStoreIndex(nodes, storage_context=ctx, embed_model=emb), lambda: None, None
        return VectorStoreIndex.from_vector_store(pg, embed_model=emb), lambda: None, None
    if kind in ("chroma", "milvus"):
        if kind == "chroma":
            import chromadb
            from llama_index.vector_stores.chroma import ChromaVectorStore

            client = chromadb.PersistentClient(path=str(root / "chroma"))
            store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("faults"))
        else:
            from llama_index.vector_stores.milvus import MilvusVectorStore

            store = MilvusVectorStore(
                uri=str(root / "m.db"), dim=64, overwrite=build, similarity_metric="IP"
            )
        if build:
            ctx = StorageContext.from_defaults(vector_store=store)
            return VectorStoreIndex(nodes, storage_context=ctx, embed_model=emb), lambda: None, None
        return VectorStoreIndex.from_vector_store(store, embed_model=emb), lambda: None, None
    if kind == "simple":
        if build:
            index = VectorStoreIndex(nodes, embed_model=emb)
        else:
            ctx = StorageContext.from_defaults(persist_dir=persist)
            index = load_index_from_storage(ctx, embed_model=emb)
        return index, lambda: index.storage_context.persist(persist), None
    if kind == "faiss":
        import faiss
        from llama_index.vector_stores.faiss import FaissVectorStore

        if build:
            store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(64))
            ctx = StorageContext.from_defaults(vector_store=store)
            index = VectorStoreIndex(nodes, storage_context=ctx, embed_model=emb)
        else:
            store = FaissVectorStore.from_persist_dir(persist)
            ctx = StorageContext.from_defaults(vector_store=store, persist_dir=persist)
            index = load_index_from_storage(ctx, embed_model=emb)
        return index, lambda: index.storage_context.persist(persist), None
    raise SystemExit(f"unknown LlamaIndex store {kind}")


def li_vectors(index: Any) -> dict[str, np.ndarray]:
    from nudge_integrations.llama_index.ledger import writer_of

    writer = writer_of(index)
    return writer.read(writer.all_ids())


# ----------------------------------------------------------------------------- phases
class Framework:
    """The calls a phase needs, for one framework."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lc = name == "langchain"
        if self.lc:
            from nudge_integrations import langchain as api
        else:
            from nudge_integrations import llama_index as api
        self.api = api

    def open(self, kind: str, root: Path, build: bool) -> tuple[Any, Callable[[], None], Any]:
        return lc_open(kind, root, build) if self.lc else li_open(kind, root, build)

    def vectors(self, store: Any) -> dict[str, np.ndarray]:
        return lc_vectors(store) if self.lc else li_vectors(store)

    def writer_class(self, store: Any) -> type:
        if self.lc:
            return lc_writer_class(store)
        from nudge_integrations.llama_index.ledger import writer_of

        return type(writer_of(store))

    def marked(self, store: Any) -> set[str] | None:
        """Ids whose ``nudge_ledger`` marker is set (None: the store keeps no markers)."""
        from nudge_integrations.stores.base import KeepsMarkers
        from nudge_integrations.stores.lifecycle import read_markers

        if self.lc:
            from nudge_integrations.stores import registry

            writer = registry.bind(store, "langchain").writer
        else:
            from nudge_integrations.llama_index.ledger import writer_of

            writer = writer_of(store)
        if not isinstance(writer, KeepsMarkers):
            return None
        return set(read_markers(writer, writer.all_ids()))

    def fit(self, store: Any, ledger: Any) -> tuple[Any, dict[str, np.ndarray], np.ndarray, list]:
        """(fitter, its nudged vectors by id, its base rows, its ids)."""
        if self.lc:
            from nudge_integrations.langchain import NudgeFitter

            f = NudgeFitter(lc_embeddings()).fit(
                store, lc_pairs("train"), val=lc_pairs("val"), ledger=ledger
            )
            return f, {str(k): v for k, v in f.nudged_vectors().items()}, f.base_vectors_, f.ids_
        from nudge_integrations.llama_index import NudgeFinetuneEngine

        parts = li_parts()
        e = NudgeFinetuneEngine(
            parts["train"], li_embeddings(), corpus=store, val_dataset=parts["val"], ledger=ledger
        )
        e.finetune()
        vectors = {str(k): v for k, v in e.nudged_vectors().items()}
        return e, vectors, e.base_embeddings_matrix(), e.node_ids

    def swap(self, fitter: Any, store: Any, ledger: Any) -> Any:
        if self.lc:
            return fitter.swap_in(store, ledger=ledger)
        return fitter.apply_to_index(store, ledger=ledger)


def small_limits(cls: type) -> None:
    """Cut every request of ``cls``'s writers to ``BATCH`` records a write and ``READ`` ids
    a read, whatever limits they read from their store, so the swap runs in many ledgered
    batches (the default batch is the store's write limit) and every read is cut too."""
    small = Limits(read=READ, write=BATCH)
    # a property with a setter that ignores the writer's own (e.g. Chroma's max batch size)
    cls.limits = property(lambda self: small, lambda self, value: None)  # type: ignore[attr-defined]


#: The vector write calls of a writer: a plain one, and a batch's vectors with their
#: markers (what a swap makes on a store that keeps markers).
WRITES = ("write", "write_marked")


def _on_writes(cls: type, hit: Callable[[int], None]) -> Callable[[], None]:
    """Call ``hit(n)`` before the ``n``-th vector write of ``cls`` (either kind; a combined
    call that carries no vector is not counted); returns the undo."""
    count = {"n": 0}
    saved = {name: cls.__dict__.get(name) for name in WRITES}

    def wrap(name: str) -> None:
        real = getattr(cls, name, None)
        if real is None:
            return

        def write(self: Any, vectors: Any, *rest: Any) -> None:
            if vectors:
                count["n"] += 1
                hit(count["n"])
            real(self, vectors, *rest)

        setattr(cls, name, write)

    for name in WRITES:
        wrap(name)

    def undo() -> None:
        for name, was in saved.items():
            if was is None:
                if name in cls.__dict__:
                    delattr(cls, name)
            else:
                setattr(cls, name, was)

    return undo


def kill_at(cls: type, call: int) -> None:
    """Make the ``call``-th vector write of ``cls`` kill the process before it writes."""

    def hit(n: int) -> None:
        if n == call:
            os.kill(os.getpid(), signal.SIGKILL)

    _on_writes(cls, hit)


def fail_at(cls: type, calls: set[int]) -> Callable[[], None]:
    """Make the given vector write calls of ``cls`` raise; returns the undo."""

    def hit(n: int) -> None:
        if n in calls:
            raise RuntimeError(f"injected failure at write {n}")

    return _on_writes(cls, hit)


def save_npz(path: Path, vectors: dict[str, np.ndarray]) -> None:
    ids = list(vectors)
    np.savez(path, ids=np.asarray(ids), vectors=np.stack([vectors[i] for i in ids]))


def load_npz(path: Path) -> dict[str, np.ndarray]:
    got = np.load(path)
    return {str(i): v for i, v in zip(got["ids"], got["vectors"], strict=True)}


def classify(now: dict[str, np.ndarray], base: dict, nudged: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"base": [], "nudged": [], "neither": []}
    for i, v in now.items():
        if i in nudged and np.array_equal(v, nudged[i]):
            out["nudged"].append(i)
        elif np.array_equal(v, base[i]):
            out["base"].append(i)
        else:
            out["neither"].append(i)
    return out


def phase_swap(fw: Framework, kind: str, root: Path, kill: int) -> None:
    store, save, ledger = fw.open(kind, root, build=True)
    save()
    save_npz(root / "base.npz", fw.vectors(store))
    fitter, nudged, _, _ = fw.fit(store, ledger)
    save_npz(root / "nudged.npz", nudged)
    small_limits(fw.writer_class(store))
    if kill:
        kill_at(fw.writer_class(store), kill)
    fw.swap(fitter, store, ledger)
    save()
    print(json.dumps({"swapped": len(nudged)}))


def phase_check(fw: Framework, kind: str, root: Path, seed: int) -> None:
    base, nudged = load_npz(root / "base.npz"), load_npz(root / "nudged.npz")
    store, save, ledger = fw.open(kind, root, build=False)
    small_limits(fw.writer_class(store))
    seen: dict[str, Any] = {}
    st = fw.api.status(store, ledger=ledger)
    seen["status"] = st.state
    seen["operation"] = st.operation
    now = classify(fw.vectors(store), base, nudged)
    seen["after_kill"] = {k: len(v) for k, v in now.items()}
    assert not now["neither"], f"records neither base nor nudged: {now['neither'][:3]}"
    marks = fw.marked(store)
    if marks is not None:  # a record holding its nudged vector is marked at every instant
        assert set(now["nudged"]) <= marks, sorted(set(now["nudged"]) - marks)[:3]
    action = random.Random(seed).choice(["finish", "rollback"])
    seen["action"] = action
    getattr(fw.api, action)(store, ledger=ledger)
    now = classify(fw.vectors(store), base, nudged)
    want = "nudged" if action == "finish" else "base"
    expect_nudged = len(nudged) if action == "finish" else 0
    assert len(now["nudged"]) == expect_nudged and not now["neither"], now
    assert fw.api.status(store, ledger=ledger).state == want
    if marks is not None:  # markers follow: exactly the nudged records, or none
        assert fw.marked(store) == set(now["nudged"]), action
    fw.api.revert(store, ledger=ledger)
    now = classify(fw.vectors(store), base, nudged)
    assert now["base"] and len(now["base"]) == len(base), {k: len(v) for k, v in now.items()}
    assert marks is None or fw.marked(store) == set()
    # a rollback that itself fails is recorded, and a new call undoes it
    fitter, _again, rows, ids = fw.fit(store, ledger)
    assert all(np.array_equal(r, base[i]) for i, r in zip(ids, rows, strict=True))
    undo = fail_at(fw.writer_class(store), {2, 3})
    try:
        fw.swap(fitter, store, ledger)
        raise AssertionError("the injected failure did not surface")
    except Exception as exc:
        seen["rollback_failure"] = type(exc).__name__
        assert "rolling back failed too" in str(exc), str(exc)
    undo()
    assert fw.api.status(store, ledger=ledger).state == "half-swapped"
    fw.api.rollback(store, ledger=ledger)
    assert len(classify(fw.vectors(store), base, nudged)["base"]) == len(base)
    assert marks is None or fw.marked(store) == set()
    # swap again, then a new fit on the nudged store must start from the base
    fw.swap(fitter, store, ledger)
    save()
    # stores kept in memory are reopened from what was saved; the others stay open (a
    # Qdrant local folder admits one client per process)
    store2 = fw.open(kind, root, build=False)[0] if kind in REOPEN else store
    _, _, rows2, ids2 = fw.fit(store2, ledger)
    seen["refit_from_base"] = all(
        np.array_equal(r, base[i]) for i, r in zip(ids2, rows2, strict=True)
    )
    assert seen["refit_from_base"], "a refit on the nudged store did not start from the base"
    fw.api.revert(store2, ledger=ledger)
    now = classify(fw.vectors(store2), base, nudged)
    assert len(now["base"]) == len(base)
    print(json.dumps(seen))


def main(argv: list[str]) -> None:
    phase, framework, kind, root, arg = argv
    fw = Framework(framework)
    if phase == "swap":
        phase_swap(fw, kind, Path(root), int(arg))
    else:
        phase_check(fw, kind, Path(root), int(arg))


if __name__ == "__main__":
    main(sys.argv[1:])
