"""The LanceDB store folder on real tables: exact writes by id, the metric its searches
rank by, clear refusals, every request within the writer's limits, LlamaIndex's and
LangChain's stores bound through the registry, and ``lancedb:PATH:TABLE``."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.stores import registry
from nudge_integrations.stores.base import Limits
from nudge_integrations.stores.lancedb import LanceDBWriter, lancedb_limits
from nudge_integrations.stores.lancedb.cli import open_store

from ..hashing import DIM, hash_embed
from ..optional import need
from .recording import hash_embeddings

lancedb = need("lancedb")


def table(tmp: Path, n: int = 60, dim: int = 16, **extra: Any) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(0)
    vecs = (rng.normal(size=(n, dim)) * rng.uniform(0.2, 3, size=(n, 1))).astype(np.float32)
    rows = [
        {"id": f"r'{i}", "vector": vecs[i].tolist(), "text": f"t{i}", "meta": {"k": i}, **extra}
        for i in range(n)
    ]
    return lancedb.connect(str(tmp / "db")).create_table("t", rows), vecs


def test_writes_by_id_exactly_and_keeps_other_columns(tmp_path: Path) -> None:
    tbl, vecs = table(tmp_path)
    writer = LanceDBWriter(tbl)
    ids = writer.all_ids()
    assert len(ids) == 60 and writer.similarity == "l2" and writer.dim == 16
    assert writer.location() == ("path", str(tmp_path / "db"), "t")
    new = {i: np.full(16, n + 0.1, dtype=np.float32) for n, i in enumerate(ids[:7])}
    writer.write(new)
    got = writer.read([*ids[:9], "absent"])
    assert sorted(got) == sorted(ids[:9])  # absent ids are left out
    for i in ids[:7]:
        np.testing.assert_array_equal(got[i], new[i])
    np.testing.assert_array_equal(got[ids[8]], vecs[8])
    row = tbl.search().where("text = 't3'").to_arrow().to_pylist()[0]
    assert row["id"] == "r'3" and row["meta"] == {"k": 3}


def test_a_dot_index_keeps_ranking_by_dot_after_every_row_is_rewritten(tmp_path: Path) -> None:
    from lancedb.index import IvfFlat

    tbl, vecs = table(tmp_path)
    tbl.create_index("vector", config=IvfFlat(distance_type="dot", num_partitions=2))
    writer = LanceDBWriter(tbl)
    assert writer.similarity == "dot"
    ids = writer.all_ids()
    order = [int(i[2:]) for i in ids]
    moved = vecs[order] * 2.5  # unnormalised, as NUDGE-M makes them
    writer.write(dict(zip(ids, moved, strict=True)))
    # LanceDB ranks by l2 once its index covers no row; the writer re-indexed them
    assert LanceDBWriter(tbl).similarity == "dot"
    rng = np.random.default_rng(1)
    for q in rng.normal(size=(20, 16)).astype(np.float32):
        top = tbl.search(q).limit(1).to_arrow()["id"][0].as_py()
        assert top == ids[int(np.argmax(moved @ q))]


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    tbl, _ = table(tmp_path)
    with pytest.raises(NudgeError, match="no column 'emb' for its vectors"):
        LanceDBWriter(tbl, vector_column="emb")
    with pytest.raises(NudgeError, match="only string ids"):
        LanceDBWriter(tbl, id_column="meta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tbl.add([{"id": "r'0", "vector": [0.0] * 16, "text": "again", "meta": {"k": 0}}])
    with pytest.raises(DuplicateIdError, match='"r\'0" is on 2 rows'):
        LanceDBWriter(tbl).all_ids()
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float64(), 4))])
    wide = lancedb.connect(str(tmp_path / "db")).create_table("f64", schema=schema)
    with pytest.raises(NudgeError, match="not float32"):
        LanceDBWriter(wide)


# ------------------------------------------------------------------ request sizes
class Builder:
    """A LanceDB query builder that records the ids of each ``IN`` filter it is given."""

    def __init__(self, inner: Any, requests: list[tuple[str, int]]) -> None:
        self._inner, self._requests = inner, requests

    def where(self, where: str, *args: Any, **kwargs: Any) -> Builder:
        self._requests.append(("read", where.count("', '") + 1))
        return Builder(self._inner.where(where, *args, **kwargs), self._requests)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Merge:
    """A ``merge_insert`` builder that records the rows each execution writes."""

    def __init__(self, inner: Any, requests: list[tuple[str, int]]) -> None:
        self._inner, self._requests = inner, requests

    def when_matched_update_all(self) -> Merge:
        return Merge(self._inner.when_matched_update_all(), self._requests)

    def execute(self, source: Any) -> Any:
        self._requests.append(("write", source.num_rows))
        return self._inner.execute(source)


class RecordingTable:
    """A LanceDB table whose reads by id and writes are recorded with their sizes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.requests: list[tuple[str, int]] = []

    def search(self, *args: Any, **kwargs: Any) -> Builder:
        return Builder(self._inner.search(*args, **kwargs), self.requests)

    def merge_insert(self, on: str) -> Merge:
        return Merge(self._inner.merge_insert(on), self.requests)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_no_request_exceeds_the_limits(tmp_path: Path) -> None:
    tbl, vecs = table(tmp_path, n=50)
    recorded = RecordingTable(tbl)
    writer = LanceDBWriter(recorded, limits=Limits(read=7, write=5))
    ids = writer.all_ids()
    got = writer.read(ids)
    writer.write({i: got[i] * 2 for i in ids})
    reads = [n for kind, n in recorded.requests if kind == "read"]
    writes = [n for kind, n in recorded.requests if kind == "write"]
    assert max(reads) == 7 and len(reads) == math.ceil(50 / 7)
    assert max(writes) == 5 and len(writes) == math.ceil(50 / 5)
    now = LanceDBWriter(tbl).read(ids)
    for i in ids:
        np.testing.assert_array_equal(now[i], vecs[int(i[2:])] * 2)


def test_limits_are_the_filter_size_and_the_write_bytes(tmp_path: Path) -> None:
    assert lancedb_limits(384) == Limits(read=8192, write=43690)  # 64 MiB of float32
    tbl, _ = table(tmp_path)
    assert LanceDBWriter(tbl).limits == lancedb_limits(16)


# ------------------------------------------------------------------ bound through the registry
def test_llama_index_store_binds_through_the_registry(tmp_path: Path) -> None:
    mod = need("llama_index.vector_stores.lancedb")
    from llama_index.core.schema import MetadataMode, TextNode

    store = mod.LanceDBVectorStore(uri=str(tmp_path / "lance"), table_name="docs")
    with pytest.raises(NudgeError, match="'docs' does not exist yet"):
        registry.bind(store, "llama_index")
    nodes = [
        TextNode(id_=f"n{n}", text=f"passage {n}", metadata={"n": n}, embedding=hash_embed(f"{n}"))
        for n in range(50)
    ]
    store.add(nodes)
    bound = registry.bind(store, "llama_index")
    writer = bound.writer
    assert isinstance(writer, LanceDBWriter) and bound.label == "LanceDBVectorStore"
    assert writer.location() == ("path", str(tmp_path / "lance"), "docs")
    ids = [n.node_id for n in nodes]
    base = writer.read(ids)
    for node in nodes:
        np.testing.assert_array_equal(base[node.node_id], node.embedding)
    writer.write({ids[0]: base[ids[0]] * 3})
    np.testing.assert_array_equal(writer.read([ids[0]])[ids[0]], base[ids[0]] * 3)
    writer.limits = Limits(read=7, write=5)
    want = {n.node_id: n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes}
    assert bound.texts(ids) == want
    got = bound.nodes(ids)  # a filter of ours: the store quotes ids as column names
    assert {n.node_id: n.metadata for n in got} == {n.node_id: n.metadata for n in nodes}


def test_langchain_store_binds_through_the_registry(tmp_path: Path) -> None:
    mod = need("langchain_community.vectorstores")
    from langchain_core.documents import Document

    store = mod.LanceDB(uri=str(tmp_path / "lance"), embedding=hash_embeddings(), table_name="t")
    docs = [Document(id=f"d{n}", page_content=f"text {n}", metadata={"n": n}) for n in range(50)]
    store.add_documents(docs, ids=[d.id for d in docs])
    bound = registry.bind(store, "langchain")
    writer = bound.writer
    assert isinstance(writer, LanceDBWriter) and bound.label == "LanceDB"
    writer.limits = Limits(read=7, write=5)
    assert bound.records is not None
    pages = list(bound.records())
    assert max(len(p) for p in pages) <= 7 and len(pages) >= math.ceil(50 / 7)
    assert sum(map(len, pages)) == 50
    records = {r.id: r for page in pages for r in page}
    for d in docs:
        r = records[str(d.id)]
        assert (r.text, r.metadata) == (d.page_content, d.metadata)
        np.testing.assert_array_equal(r.vector, hash_embed(d.page_content))
    ids = [str(d.id) for d in docs]
    assert bound.texts(ids) == {str(d.id): d.page_content for d in docs}
    writer.write({"d3": np.ones(DIM, np.float32)})
    np.testing.assert_array_equal(writer.read(["d3"])["d3"], np.ones(DIM, np.float32))


# ------------------------------------------------------------------ the command line
def test_cli_opens_a_table(tmp_path: Path) -> None:
    _, vecs = table(tmp_path)
    with pytest.raises(NudgeError, match="does not exist"):
        open_store(str(tmp_path / "absent"), "t")
    with pytest.raises(NudgeError, match="no table 'u'"):
        open_store(str(tmp_path / "db"), "u")
    with pytest.raises(NudgeError, match="no column 'emb'"):
        open_store(str(tmp_path / "db"), "t", vector_field="emb")
    bound = open_store(str(tmp_path / "db"), "t")
    assert isinstance(bound.writer, LanceDBWriter)
    assert bound.writer.location() == ("path", str(tmp_path / "db"), "t")
    assert bound.save is None and bound.writer.similarity == "l2"
    np.testing.assert_array_equal(bound.writer.read(["r'5"])["r'5"], vecs[5])
