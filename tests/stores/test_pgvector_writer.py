"""The pgvector store folder on a real PostgreSQL + pgvector server: exact reads and writes
by id, markers in the JSON metadata column (and none where a table has no such column),
one transaction per request, every request within the writer's limits, LlamaIndex's
``PGVectorStore`` and LangChain's ``PGVector`` bound through the registry, and
``pgvector:URL:TABLE``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores import registry
from nudge_integrations.stores.base import MARKER, KeepsMarkers, Limits
from nudge_integrations.stores.pgvector import (
    PgVectorTableWriter,
    PgVectorWriter,
    pgvector_writer,
)
from nudge_integrations.stores.pgvector.cli import open_store

from ..hashing import DIM, hash_embed
from ..optional import need
from ..pg_server import driver_url
from .recording import hash_embeddings

sqlalchemy = need("sqlalchemy")
need("psycopg")

N = 50


def vectors(n: int = N, dim: int = 16) -> NDArray[np.float32]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, dim)) * rng.uniform(0.2, 3, (n, 1))).astype(np.float32)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Any]:
    engine = sqlalchemy.create_engine(driver_url(pg_url, "psycopg"))
    yield engine
    engine.dispose()


def make_table(
    engine: Any, name: str = "docs", metadata: str | None = "jsonb", column: str = "embedding"
) -> NDArray[np.float32]:
    """``name`` with N rows: ids ``r'0``.., text, a 16-d vector column and (unless None) a
    metadata column of that type."""
    x = vectors()
    meta = f", metadata {metadata}" if metadata else ""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (id text, body text, {column} vector(16){meta})")
        for n in range(N):
            values = [f"r'{n}", f"text {n}", "[" + ",".join(map(repr, x[n].tolist())) + "]"]
            if metadata:
                values.append(f'{{"k": {n}}}')
            marks = ", ".join(["%s"] * len(values))
            conn.exec_driver_sql(f"INSERT INTO {name} VALUES ({marks})", tuple(values))
    return x


class Statements:
    """The array parameters of every statement an engine runs: ids read per ``= ANY``
    and records written per ``UPDATE``."""

    def __init__(self, engine: Any) -> None:
        self.reads: list[int] = []
        self.writes: list[int] = []
        sqlalchemy.event.listen(engine, "before_cursor_execute", self.record)

    def record(self, conn: Any, cursor: Any, sql: str, params: Any, *rest: Any) -> None:
        lists = [len(p) for p in params or () if isinstance(p, list)]
        if not lists:
            return
        (self.writes if sql.lstrip().startswith("UPDATE") else self.reads).append(max(lists))


# ------------------------------------------------------------------ the writer
def test_reads_writes_and_marks_by_id_exactly(engine: Any) -> None:
    x = make_table(engine)
    writer = PgVectorWriter(
        engine, "docs", id_column="id", vector_column="embedding", metadata_column="metadata"
    )
    ids = [f"r'{n}" for n in range(N)]
    assert sorted(writer.all_ids()) == sorted(ids) and writer.count() == N
    got = writer.read([*ids[:9], "absent"])
    assert sorted(got) == sorted(ids[:9])
    for n in range(9):
        np.testing.assert_array_equal(got[ids[n]], x[n])  # the float32 bytes, exactly
    new = {i: x[n] * 1.5 for n, i in enumerate(ids[:7])}
    writer.write(new)
    now = writer.read(ids)
    for n, i in enumerate(ids):
        np.testing.assert_array_equal(now[i], new.get(i, x[n]))
    writer.write_markers(ids[:4], "/ledger")
    assert writer.read_markers(ids) == dict.fromkeys(ids[:4], "/ledger")
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT body, metadata FROM docs WHERE id = 'r''2'").one()
    assert row == ("text 2", {"k": 2, MARKER: "/ledger"})  # other columns kept
    writer.write_markers(ids[:4], None)
    assert writer.read_markers(ids) == {}
    # one transaction per request: a bad vector leaves its good neighbour unwritten
    with pytest.raises(Exception, match="dimensions"):
        writer.write({ids[0]: x[0] + 1, ids[1]: np.ones(3, np.float32)})
    np.testing.assert_array_equal(writer.read([ids[0]])[ids[0]], new[ids[0]])


def test_no_request_exceeds_the_limits(engine: Any) -> None:
    x = make_table(engine)
    seen = Statements(engine)
    writer = PgVectorWriter(
        engine,
        "docs",
        id_column="id",
        vector_column="embedding",
        metadata_column="metadata",
        limits=Limits(read=7, write=5),
    )
    ids = writer.all_ids()
    got = writer.read(ids)
    writer.write({i: got[i] * 2 for i in ids})
    writer.write_markers(ids, "/ledger")
    assert writer.read_markers(ids) == dict.fromkeys(ids, "/ledger")
    writer.write_markers(ids, None)
    pages = list(writer.pages(["body"], vectors=True))
    assert max(seen.reads) == 7 and max(seen.writes) == 5
    assert len(seen.writes) == 3 * math.ceil(N / 5)  # vectors, marking, unmarking
    assert [len(p) for p in pages] == [7] * 7 + [1]
    assert len(list(writer.rows(["body"], ids))) == N
    now = writer.read(ids)
    for n in range(N):
        np.testing.assert_array_equal(now[f"r'{n}"], x[n] * 2)


@pytest.mark.parametrize("kind", ["jsonb", "json"])
def test_vectors_and_markers_go_in_one_update(engine: Any, kind: str) -> None:
    """A batch's vectors and marker changes: one ``UPDATE`` per request, one transaction
    (a failure inside PostgreSQL leaves every record of the request as it was, vector and
    marker), other metadata kept; records with only one of the two are written apart."""
    x = make_table(engine, metadata=kind)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE docs SET metadata = NULL WHERE id = 'r''3'")
    writer = PgVectorWriter(
        engine,
        "docs",
        id_column="id",
        vector_column="embedding",
        metadata_column="metadata",
        limits=Limits(read=N, write=5),
    )
    assert writer.writes_together
    ids = [f"r'{n}" for n in range(N)]
    seen = Statements(engine)

    def metadata(i: str) -> Any:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT metadata FROM docs WHERE id = %s", (i,)).scalar()

    writer.write_marked(
        {i: x[n] * 2 for n, i in enumerate(ids[:10])}, dict.fromkeys(ids[:10], "/l")
    )
    assert seen.writes == [5, 5]  # vectors and markers together, one UPDATE a request
    now = writer.read(ids)
    for n, i in enumerate(ids):
        np.testing.assert_array_equal(now[i], x[n] * 2 if n < 10 else x[n])
    assert writer.read_markers(ids) == dict.fromkeys(ids[:10], "/l")
    assert metadata(ids[2]) == {"k": 2, MARKER: "/l"} and metadata(ids[3]) == {MARKER: "/l"}
    seen.writes.clear()
    writer.write_marked({i: x[n] for n, i in enumerate(ids[:10])}, dict.fromkeys(ids[:10]))
    assert seen.writes == [5, 5]
    now = writer.read(ids)
    for n, i in enumerate(ids):
        np.testing.assert_array_equal(now[i], x[n])
    assert writer.read_markers(ids) == {} and metadata(ids[2]) == {"k": 2}
    # a vector PostgreSQL refuses: nothing of its request lands, vectors nor markers
    seen.writes.clear()
    with pytest.raises(Exception, match="dimensions"):
        writer.write_marked(
            {ids[0]: x[0] * 3, ids[1]: np.ones(3, np.float32)}, dict.fromkeys(ids[:2], "/l")
        )
    np.testing.assert_array_equal(writer.read([ids[0]])[ids[0]], x[0])
    assert writer.read_markers(ids) == {}
    # a record another process deleted: the request is refused as a whole
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM docs WHERE id = 'r''4'")
    with pytest.raises(NudgeError, match="1 of 2 records to write are no longer"):
        writer.write_marked({ids[4]: x[4] * 3, ids[5]: x[5] * 3}, dict.fromkeys(ids[4:6], "/l"))
    np.testing.assert_array_equal(writer.read([ids[5]])[ids[5]], x[5])
    assert writer.read_markers(ids) == {}
    # a vector without a marker change, a marker without a vector: written apart
    seen.writes.clear()
    writer.write_marked({ids[6]: x[6] * 2}, {ids[7]: "/l"})
    assert seen.writes == [1, 1]
    assert writer.read_markers(ids) == {ids[7]: "/l"}
    np.testing.assert_array_equal(writer.read([ids[6]])[ids[6]], x[6] * 2)


def test_markers_only_where_a_json_column_keeps_them(engine: Any) -> None:
    make_table(engine, "plain", metadata=None)
    make_table(engine, "texty", metadata="text")
    make_table(engine, "marked", metadata="json")
    kw: dict[str, Any] = {"id_column": "id", "vector_column": "embedding"}
    for name in ("plain", "texty"):
        writer = pgvector_writer(engine, name, metadata_column="metadata", **kw)
        assert type(writer) is PgVectorTableWriter and not isinstance(writer, KeepsMarkers)
        with pytest.raises(NudgeError, match="not json or jsonb"):
            PgVectorWriter(engine, name, metadata_column="metadata", **kw)
    writer = pgvector_writer(engine, "marked", metadata_column="metadata", **kw)
    assert isinstance(writer, PgVectorWriter) and isinstance(writer, KeepsMarkers)
    writer.write_markers(["r'1"], "/ledger")
    assert writer.read_markers(["r'1", "r'2"]) == {"r'1": "/ledger"}


def test_refusals_name_the_problem(engine: Any) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE arrays (id text, embedding real[])")
    kw: dict[str, Any] = {"id_column": "id", "vector_column": "embedding"}
    with pytest.raises(NudgeError, match="halfvec would round"):
        PgVectorTableWriter(engine, "arrays", **kw)
    with pytest.raises(NudgeError, match="does not exist"):
        PgVectorTableWriter(engine, "absent", **kw)


# ------------------------------------------------------------------ bound through the registry
def test_llama_index_store_binds_through_the_registry(pg_url: str) -> None:
    pg = need("llama_index.vector_stores.postgres")
    from llama_index.core.schema import MetadataMode, TextNode

    store = pg.PGVectorStore(
        connection_string=driver_url(pg_url, "psycopg2"),
        async_connection_string=driver_url(pg_url, "asyncpg"),
        table_name="nodes",
        embed_dim=DIM,
    )
    nodes = [
        TextNode(id_=f"n{n}", text=f"passage {n}", metadata={"n": n}, embedding=hash_embed(f"{n}"))
        for n in range(N)
    ]
    store.add(nodes)
    try:
        bound = registry.bind(store, "llama_index")
        writer = bound.writer
        assert isinstance(writer, PgVectorWriter) and bound.label == "PGVectorStore"
        assert writer.similarity == "cosine"
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
        assert sorted(n.node_id for n in bound.nodes(ids)) == sorted(ids)
    finally:
        store._engine.dispose()


def test_langchain_store_binds_through_the_registry(pg_url: str) -> None:
    lc_pg = need("langchain_postgres")
    from langchain_core.documents import Document

    def make(name: str, docs: list[Document]) -> Any:
        store = lc_pg.PGVector(
            hash_embeddings(),
            connection=driver_url(pg_url, "psycopg"),
            collection_name=name,
            distance_strategy=lc_pg.vectorstores.DistanceStrategy.MAX_INNER_PRODUCT,
            embedding_length=DIM,
        )
        store.add_documents(docs, ids=[d.id for d in docs])
        return store

    docs = [Document(id=f"d{n}", page_content=f"text {n}", metadata={"n": n}) for n in range(N)]
    store = make("one", docs)
    other = make("two", [Document(id="x", page_content="elsewhere")])
    try:
        bound = registry.bind(store, "langchain")
        writer = bound.writer
        assert isinstance(writer, PgVectorWriter) and bound.label == "PGVector"
        assert writer.similarity == "dot" and writer.location()[2] == "one"
        ids = [str(d.id) for d in docs]
        writer.write_markers(ids[:2], "/ledger")
        writer.limits = Limits(read=7, write=5)
        assert bound.records is not None
        pages = list(bound.records())
        assert [len(p) for p in pages] == [7] * 7 + [1]  # this collection's rows only
        records = {r.id: r for page in pages for r in page}
        for d in docs:
            r = records[str(d.id)]
            assert (r.text, r.metadata) == (d.page_content, d.metadata)  # no marker shown
            np.testing.assert_array_equal(r.vector, hash_embed(d.page_content))
        assert bound.texts([*ids, "x"]) == {str(d.id): d.page_content for d in docs}
        assert writer.read_markers(ids) == dict.fromkeys(ids[:2], "/ledger")
        assert registry.bind(other, "langchain").writer.all_ids() == ["x"]
    finally:
        store._engine.dispose()
        other._engine.dispose()


# ------------------------------------------------------------------ the command line
def test_cli_opens_a_table(pg_url: str, engine: Any) -> None:
    x = make_table(engine)
    make_table(engine, "plain", metadata=None, column="vector")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE numbered (id int, embedding vector(16))")
    bound = open_store(pg_url, "docs")  # --vector-field left at its default: embedding
    writer = bound.writer
    assert isinstance(writer, PgVectorWriter) and bound.save is None
    assert writer.location()[2] == "docs" and writer.similarity is None
    np.testing.assert_array_equal(writer.read(["r'5"])["r'5"], x[5])
    writer.write_markers(["r'5"], "/ledger")
    assert writer.read_markers(["r'5"]) == {"r'5": "/ledger"}
    writer.engine.dispose()
    plain = open_store(pg_url, "public.plain").writer  # a 'vector' column, no metadata
    assert type(plain) is PgVectorTableWriter and plain.read(["r'1"])
    plain.engine.dispose()
    with pytest.raises(NudgeError, match="'emb' of 'docs' is missing"):
        open_store(pg_url, "docs", vector_field="emb")
    with pytest.raises(NudgeError, match="does not exist"):
        open_store(pg_url, "absent")
    with pytest.raises(NudgeError, match="integer 'id' column"):
        open_store(pg_url, "numbered")
    with pytest.raises(NudgeError, match=r"could not connect to postgresql\+psycopg://u:\*\*\*@"):
        open_store("postgresql://u:secret@127.0.0.1:1/db", "docs")
    with pytest.raises(NudgeError, match="not a PostgreSQL URL"):
        open_store("mysql://localhost/db", "docs")
