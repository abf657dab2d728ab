"""Chroma's limits come from the store: a collection whose client reports a max batch size
of 7 (Chroma's HTTP client then refuses any add or update of more records) is read,
written, marked and listed through ``ChromaWriter`` in requests of at most 7 records,
where one unbatched call would fail."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from nudge_integrations.compat.clients import chroma_client
from nudge_integrations.stores import registry
from nudge_integrations.stores.base import MARKER, Limits
from nudge_integrations.stores.chroma import ChromaWriter

from ..optional import need
from .recording import Recording, hash_embeddings

N, SMALL = 50, 7


def _size(*_: Any, ids: Any = None, limit: Any = None, **__: Any) -> int:
    """Records one request to a collection names (by id or by page)."""
    return len(ids) if ids is not None else int(limit or 0)


def test_limits_are_read_from_the_client() -> None:
    chromadb = need("chromadb")
    client = chromadb.EphemeralClient()
    col = client.create_collection(f"limits-{uuid.uuid4().hex[:8]}")
    size = client.get_max_batch_size()
    assert ChromaWriter(col).limits == Limits(read=size, write=size)


def test_a_small_max_batch_is_honoured_by_every_request(
    chroma_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"limits-{uuid.uuid4().hex[:8]}"
    col = chroma_server.create_collection(name, metadata={"hnsw:space": "ip"})
    ids = [f"r{i}" for i in range(N)]
    rng = np.random.default_rng(0)
    base = rng.standard_normal((N, 8)).astype(np.float32)
    col.add(
        ids=ids,
        embeddings=base,
        documents=[f"text {i}" for i in range(N)],
        metadatas=[{"n": i} for i in range(N)],
    )
    monkeypatch.setattr(chroma_client(col), "get_max_batch_size", lambda: SMALL)
    nudged = rng.standard_normal((N, 8)).astype(np.float32)
    with pytest.raises(Exception, match="batch size"):  # Chroma itself refuses 50 at once
        col.update(ids=ids, embeddings=nudged)

    seen = Recording(col, {"get": _size, "update": _size})
    writer = ChromaWriter(seen)
    assert writer.limits == Limits(read=SMALL, write=SMALL)
    writer.write(dict(zip(ids, nudged, strict=True)))
    got = writer.read(ids)
    np.testing.assert_allclose(np.stack([got[i] for i in ids]), nudged, atol=1e-6)
    writer.write_markers(ids, "/some/ledger")
    assert writer.read_markers(ids) == dict.fromkeys(ids, "/some/ledger")
    kept = col.get(ids=ids[:3], include=["metadatas", "documents"])
    assert kept["metadatas"] == [{"n": i, MARKER: "/some/ledger"} for i in range(3)]
    assert kept["documents"] == ["text 0", "text 1", "text 2"]
    writer.write_markers(ids, None)
    assert writer.read_markers(ids) == {}
    assert sorted(writer.all_ids()) == sorted(ids)
    assert sum(len(page) for page, _ in writer.scan(1000)) == N
    writer.write(dict(zip(ids, base, strict=True)))  # back to the base, bit for bit
    assert all(np.array_equal(v, base[ids.index(i)]) for i, v in writer.read(ids).items())
    assert seen.count("update") >= 2 * (N // SMALL) and seen.largest("update") == SMALL
    assert seen.count("get") >= N // SMALL and seen.largest("get") == SMALL


def test_langchain_records_and_texts_page_by_the_limit(
    chroma_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = need("langchain_chroma")
    from langchain_core.documents import Document

    docs = [Document(id=f"d{i}", page_content=f"doc {i}", metadata={"n": i}) for i in range(N)]
    store = mod.Chroma(
        collection_name=f"limits-{uuid.uuid4().hex[:8]}",
        embedding_function=hash_embeddings(),
        client=chroma_server,
    )
    store.add_documents(docs)
    monkeypatch.setattr(chroma_client(store._collection), "get_max_batch_size", lambda: SMALL)
    bound = registry.bind(store, "langchain")
    assert bound.writer.limits == Limits(read=SMALL, write=SMALL)
    assert bound.records is not None
    pages = list(bound.records())
    assert max(len(p) for p in pages) == SMALL
    assert [(r.id, r.text, r.metadata) for p in pages for r in p] == [
        (d.id, d.page_content, d.metadata) for d in docs
    ]
    assert bound.texts([d.id for d in docs]) == {d.id: d.page_content for d in docs}
