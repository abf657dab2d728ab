"""The Qdrant store folder on real local-mode collections: one writer for LlamaIndex's and
LangChain's ``QdrantVectorStore`` and the command line (bound through the registry), exact
reads and writes by id, markers in the payload, every request within the writer's limits,
point ids checked, and local mode's in-place scan chosen when the collection is bound."""

from __future__ import annotations

import math
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.stores import registry
from nudge_integrations.stores.base import MARKER, Limits
from nudge_integrations.stores.qdrant import writer as qdrant_module
from nudge_integrations.stores.qdrant.cli import open_store
from nudge_integrations.stores.qdrant.writer import (
    QdrantLocalWriter,
    QdrantServerWriter,
    QdrantWriter,
    qdrant_limits,
    qdrant_writer,
)

from ..hashing import DIM, hash_embed
from ..optional import need
from .recording import Recording, hash_embeddings

qdrant_client = need("qdrant_client")
from qdrant_client import QdrantClient, models  # noqa: E402

N = 50


def uid(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"doc-{n}"))


def vectors(n: int = N, dim: int = DIM, seed: int = 0) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32)


def collection(
    client: Any, x: NDArray[np.float32], ids: list[Any], distance: str = "Dot", name: str = ""
) -> None:
    """Collection ``c`` holding ``x`` under ``ids``, with a payload per point."""
    params = models.VectorParams(size=x.shape[1], distance=models.Distance(distance))
    client.create_collection("c", vectors_config={name: params} if name else params)
    client.upsert(
        "c",
        points=[
            models.PointStruct(
                id=i, vector={name: v.tolist()} if name else v.tolist(), payload={"k": n}
            )
            for n, (i, v) in enumerate(zip(ids, x, strict=True))
        ],
    )


def recording(client: Any) -> Recording:
    return Recording(
        client,
        {
            "retrieve": lambda *a, **kw: len(kw["ids"]),
            "update_vectors": lambda *a, **kw: len(kw["points"]),
            "set_payload": lambda *a, **kw: len(kw["points"]),
            "delete_payload": lambda *a, **kw: len(kw["points"]),
            "scroll": lambda *a, **kw: int(kw["limit"]),
        },
    )


# ------------------------------------------------------------------ the writer
@pytest.mark.parametrize("kind", ["uuid", "int"])
def test_reads_writes_and_marks_by_id_exactly(kind: str) -> None:
    client = QdrantClient(location=":memory:")
    x = vectors()
    ids = [uid(n) for n in range(N)] if kind == "uuid" else list(range(N))
    collection(client, x, ids)
    writer = qdrant_writer(client, "c")
    keys = [str(i) for i in ids]
    assert sorted(writer.all_ids()) == sorted(keys) and writer.similarity == "dot"
    assert writer.location() is None  # in memory: no identity a new process finds
    got = writer.read([*keys[:9], uid(999) if kind == "uuid" else "999"])
    assert sorted(got) == sorted(keys[:9])  # absent ids are left out
    new = {k: np.full(DIM, n + 0.25, np.float32) for n, k in enumerate(keys[:7])}
    writer.write(new)
    now = writer.read(keys)
    for n, k in enumerate(keys):
        np.testing.assert_array_equal(now[k], new[k] if k in new else x[n])
    writer.write_markers(keys[:4], "/ledger")
    assert writer.read_markers(keys) == dict.fromkeys(keys[:4], "/ledger")
    point = client.retrieve("c", ids=[ids[2]], with_payload=True)[0]
    assert point.payload == {"k": 2, MARKER: "/ledger"}  # the payload is kept
    writer.write_markers(keys[:4], None)
    assert writer.read_markers(keys) == {}
    assert client.retrieve("c", ids=[ids[2]], with_payload=True)[0].payload == {"k": 2}


def test_no_request_exceeds_the_limits() -> None:
    client = recording(QdrantClient(location=":memory:"))
    x = vectors()
    keys = [uid(n) for n in range(N)]
    collection(client, x, keys)
    writer = qdrant_writer(client, "c", limits=Limits(read=7, write=5))
    assert writer.limits == Limits(read=7, write=5)
    client.requests.clear()
    assert sorted(writer.all_ids()) == sorted(keys)
    got = writer.read(keys)
    writer.write({k: got[k] * 2 for k in keys})
    writer.write_markers(keys, "/ledger")
    assert writer.read_markers(keys) == dict.fromkeys(keys, "/ledger")
    writer.write_markers(keys, None)
    assert client.largest("retrieve", "scroll") == 7
    assert client.largest("update_vectors", "set_payload", "delete_payload") == 5
    assert client.count("retrieve") == 2 * math.ceil(N / 7)  # vectors, then markers
    assert client.count("update_vectors") == math.ceil(N / 5)
    now = writer.read(keys)
    for n, k in enumerate(keys):
        np.testing.assert_array_equal(now[k], x[n] * 2)


def test_limits_follow_the_request_size_and_strict_mode() -> None:
    # 32 MiB requests of JSON floats (<= 24 bytes a value, 64 a point besides)
    assert qdrant_limits(384) == Limits(read=3615, write=3615)
    assert qdrant_limits(4096) == Limits(read=341, write=341)
    assert qdrant_limits(16) == Limits(read=4096, write=4096)  # capped
    assert qdrant_limits(384, strict_batch=100) == Limits(read=3615, write=100)
    client = QdrantClient(location=":memory:")
    collection(client, vectors(4, 384), [uid(n) for n in range(4)])
    assert qdrant_writer(client, "c").limits == qdrant_limits(384)


def test_point_ids_are_checked_before_any_request() -> None:
    client = QdrantClient(location=":memory:")
    collection(client, vectors(), [uid(n) for n in range(N)])
    writer = qdrant_writer(client, "c")
    with pytest.raises(UnknownIdError, match=r"UUIDs or unsigned integers.*uuid5"):
        writer.read(["doc-1"])
    with pytest.raises(UnknownIdError, match="lower-case hyphenated"):
        writer.write({uid(1).upper(): np.zeros(DIM, np.float32)})
    with pytest.raises(UnknownIdError, match="UUIDs or unsigned"):
        writer.write_markers(["007"], "/ledger")  # 7 would come back as "7"
    uuids_only = qdrant_writer(client, "c", integer_ids=False)
    with pytest.raises(UnknownIdError, match="which LlamaIndex's nodes cannot have"):
        uuids_only.read(["5"])


def test_the_dense_vector_is_found_or_refused() -> None:
    client = QdrantClient(location=":memory:")
    with pytest.raises(NudgeError, match="does not exist yet"):
        qdrant_writer(client, "c")
    collection(client, vectors(), [uid(n) for n in range(N)], name="dense")
    assert qdrant_writer(client, "c", vector_name="dense").vector_name == "dense"
    with pytest.raises(NudgeError, match="'dense' but the store queries 'other'"):
        qdrant_writer(client, "c", vector_name="other")


# ------------------------------------------------------------------ bound through the registry
def test_llama_index_store_binds_through_the_registry(tmp_path: Path) -> None:
    mod = need("llama_index.vector_stores.qdrant")
    from llama_index.core.schema import MetadataMode, TextNode

    client = QdrantClient(path=str(tmp_path / "q"))
    store = mod.QdrantVectorStore(
        "docs",
        client=client,
        dense_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
    )
    nodes = [
        TextNode(id_=uid(n), text=f"passage {n}", metadata={"n": n}, embedding=hash_embed(f"p{n}"))
        for n in range(N)
    ]
    store.add(nodes)
    bound = registry.bind(store, "llama_index")
    writer = bound.writer
    assert isinstance(writer, QdrantLocalWriter) and bound.label == "QdrantVectorStore"
    assert writer.similarity == "dot" and writer.location() == ("path", str(tmp_path / "q"), "docs")
    ids = [n.node_id for n in nodes]
    base = writer.read(ids)
    for node in nodes:
        np.testing.assert_array_equal(base[node.node_id], node.embedding)
    writer.write({ids[0]: base[ids[0]] * 3})
    np.testing.assert_array_equal(writer.read([ids[0]])[ids[0]], base[ids[0]] * 3)
    writer.write_markers(ids[:3], "/ledger")
    assert writer.read_markers(ids) == dict.fromkeys(ids[:3], "/ledger")
    writer.limits = Limits(read=7, write=5)
    want = {n.node_id: n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes}
    assert bound.texts(ids) == want
    got = bound.nodes(ids)
    assert sorted(n.node_id for n in got) == sorted(ids)
    assert {n.node_id: n.metadata for n in got} == {n.node_id: n.metadata for n in nodes}
    with pytest.raises(UnknownIdError, match=r"uuid5\(uuid.NAMESPACE_URL"):
        writer.read(["5"])  # LlamaIndex's nodes cannot have integer point ids
    bound = registry.bind(store, "llama_index", index=None)
    assert bound.key is None
    client.close()


def test_langchain_store_binds_through_the_registry(tmp_path: Path) -> None:
    mod = need("langchain_qdrant")
    from langchain_core.documents import Document

    client = QdrantClient(path=str(tmp_path / "q"))
    client.create_collection(
        "docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT)
    )
    store = mod.QdrantVectorStore(client, "docs", hash_embeddings(), distance=models.Distance.DOT)
    docs = [Document(id=uid(n), page_content=f"text {n}", metadata={"n": n}) for n in range(N)]
    store.add_documents(docs)
    bound = registry.bind(store, "langchain")
    writer = bound.writer
    assert isinstance(writer, QdrantLocalWriter) and bound.label == "QdrantVectorStore"
    ids = [str(d.id) for d in docs]
    writer.write_markers(ids[:2], "/ledger")
    writer.limits = Limits(read=7, write=5)
    pages = list(bound.records())  # type: ignore[misc]
    assert max(len(p) for p in pages) == 7 and len(pages) == math.ceil(N / 7)
    records = {r.id: r for page in pages for r in page}
    assert sorted(records) == sorted(ids)
    for d in docs:
        r = records[str(d.id)]
        assert (r.text, r.metadata) == (d.page_content, d.metadata)  # no marker shown
        np.testing.assert_array_equal(r.vector, hash_embed(d.page_content))
    assert bound.texts(ids[:10]) == {str(d.id): d.page_content for d in docs[:10]}
    assert writer.read_markers(ids) == dict.fromkeys(ids[:2], "/ledger")
    client.close()


def test_langchain_store_over_integer_point_ids(tmp_path: Path) -> None:
    """A collection made outside LangChain with integer point ids: read, write and marked
    by those ids (Qdrant gives them back as integers)."""
    mod = need("langchain_qdrant")
    client = QdrantClient(location=":memory:")
    x = vectors()
    params = models.VectorParams(size=DIM, distance=models.Distance.DOT)
    client.create_collection("c", vectors_config=params)
    client.upsert(
        "c",
        points=[
            models.PointStruct(
                id=n, vector=x[n].tolist(), payload={"page_content": f"t{n}", "metadata": {}}
            )
            for n in range(N)
        ],
    )
    store = mod.QdrantVectorStore(client, "c", hash_embeddings(), distance=models.Distance.DOT)
    bound = registry.bind(store, "langchain")
    writer = bound.writer
    assert isinstance(writer, QdrantWriter)
    writer.write({"3": x[3] + 1})
    np.testing.assert_array_equal(writer.read(["3"])["3"], x[3] + 1)
    writer.write_markers(["3", "4"], "/ledger")
    assert writer.read_markers(["3", "4", "5"]) == {"3": "/ledger", "4": "/ledger"}
    assert bound.texts(["3", "49"]) == {"3": "t3", "49": "t49"}


def test_sparse_only_langchain_stores_are_refused() -> None:
    mod = need("langchain_qdrant")
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "s", vectors_config={}, sparse_vectors_config={"s": models.SparseVectorParams()}
    )

    class Sparse:  # what the binding reads of a sparse-mode store (no sparse model here)
        retrieval_mode = mod.RetrievalMode.SPARSE

    class QdrantVectorStore(Sparse):
        pass

    with pytest.raises(NudgeError, match="sparse vectors only"):
        registry.entry("qdrant").binding("langchain").bind(QdrantVectorStore())


# ------------------------------------------------------------------ the command line
def test_cli_opens_a_local_folder(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    client = QdrantClient(path=str(folder))
    collection(client, vectors(), list(range(N)))
    client.close()
    with pytest.raises(NudgeError, match="does not exist"):
        open_store(str(tmp_path / "absent"), "c")
    with pytest.raises(NudgeError, match="no collection 'd'"):
        open_store(str(folder), "d")
    bound = open_store(str(folder), "c")
    # local mode reloads a folder's vectors as float64: its own search, not the scan
    assert type(bound.writer) is QdrantWriter and bound.save is None
    assert bound.writer.location() == ("path", str(folder), "c")
    np.testing.assert_array_equal(bound.writer.read(["7"])["7"], vectors()[7])
    with pytest.raises(NudgeError, match="already accessed by another instance"):
        open_store(str(folder), "c")  # local mode admits one client at a time
    bound.writer.client.close()


# ------------------------------------------------------------------ searches
def _qdrant(x: NDArray[np.float32], distance: str, name: str = "") -> QdrantWriter:
    client = QdrantClient(location=":memory:")
    collection(client, x, list(range(len(x))), distance, name)
    return qdrant_writer(client, "c", vector_name=name)


def _own_search(writer: QdrantWriter, q: NDArray[np.float32], k: int, skip: set[str]) -> Any:
    """Local mode's own search (the client's query, filter and all)."""
    flt = models.Filter(must_not=[models.HasIdCondition(has_id=[int(i) for i in skip])])
    return [
        [
            str(p.id)
            for p in writer.client.query_points(
                "c",
                query=v.tolist(),
                limit=k,
                query_filter=flt if skip else None,
                using=writer.vector_name or None,
                with_payload=False,
            ).points
        ]
        for v in q
    ]


@pytest.mark.parametrize(("distance", "name"), [("Cosine", ""), ("Dot", "dense")])
def test_local_scan_equals_its_own_search(distance: str, name: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2500, 24)).astype(np.float32)
    writer = _qdrant(x, distance, name)
    assert isinstance(writer, QdrantLocalWriter)  # one masked pass, no over-fetching
    writer.client.delete("c", points_selector=models.PointIdsList(points=[5, 17, 900]))
    q = rng.standard_normal((12, 24)).astype(np.float32)
    skip = {str(i) for i in range(0, 2500, 7)}
    assert writer.nearest_outside(q, 15, skip) == _own_search(writer, q, 15, skip)
    got = writer.nearest(q, 15)
    assert got == _own_search(writer, q, 15, set())
    assert not {"5", "17", "900"} & {i for row in got for i in row}


def test_local_l2_keeps_its_own_search() -> None:
    x = np.random.default_rng(4).standard_normal((300, 8)).astype(np.float32)
    writer = _qdrant(x, "Euclid")
    assert type(writer) is QdrantWriter  # over-fetches through local mode's search
    assert not hasattr(writer, "nearest_outside")
    assert not isinstance(writer, QdrantServerWriter)
    q = x[:3] + 0.01
    assert [row[0] for row in writer.nearest(q, 5)] == ["0", "1", "2"]


@pytest.mark.slow
def test_local_search_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """One query through local mode's own search holds about two float64-cast copies of
    the collection; the chunked scan holds one chunk, whatever the collection holds."""
    x = np.random.default_rng(5).standard_normal((40_000, 128)).astype(np.float32)
    writer = _qdrant(x, "Cosine")
    monkeypatch.setattr(qdrant_module, "LOCAL_CHUNK_BYTES", 1 << 20)
    q = x[:1] + 0.1

    def peak(fn: Any) -> int:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    own = peak(lambda: _own_search(writer, q, 20, set()))
    ours = peak(lambda: writer.nearest(q, 20))
    assert own > 1.5 * x.nbytes  # the client's search: a corpus-sized float64 cast
    assert ours < 0.15 * x.nbytes
    assert writer.nearest(q, 20) == _own_search(writer, q, 20, set())
