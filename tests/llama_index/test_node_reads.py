"""Stores whose bindings read LlamaIndex nodes without their vectors (a text check needs
none) build the same nodes as the store's own ``get_nodes``: text as embedded, metadata,
templates and excluded keys, and the legacy rows written without ``_node_content``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nudge_integrations.stores import registry

from ..hashing import DIM, hash_embed
from ..optional import need
from ..pg_server import driver_url


def _nodes(ids: list[str]) -> list[Any]:
    """Nodes that exercise the embed text: metadata, a template, an excluded key."""
    from llama_index.core.schema import TextNode

    out = []
    for n, i in enumerate(ids):
        node = TextNode(
            id_=i,
            text=f"passage {n}",
            metadata={"n": n, "title": f"t{n}", "secret": "s"},
            embedding=hash_embed(f"p{n}"),
        )
        if n % 2:
            node.excluded_embed_metadata_keys = ["secret"]
            node.metadata_template = "{key}={value}"
        out.append(node)
    return out


def _seen(nodes: list[Any]) -> dict[str, tuple[str, dict[str, Any], list[str]]]:
    from llama_index.core.schema import MetadataMode

    return {
        n.node_id: (
            n.get_content(metadata_mode=MetadataMode.EMBED),
            n.metadata,
            n.excluded_embed_metadata_keys,
        )
        for n in nodes
    }


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Any]:
    pg = need("llama_index.vector_stores.postgres")
    store = pg.PGVectorStore(
        connection_string=driver_url(pg_url, "psycopg2"),
        async_connection_string=driver_url(pg_url, "asyncpg"),
        table_name="nodes",
        embed_dim=DIM,
    )
    yield store
    store._engine.dispose()


def test_pgvector_nodes_equal_get_nodes(pg_store: Any) -> None:
    ids = [f"n{n}" for n in range(12)]
    pg_store.add(_nodes(ids))
    # a row as written before LlamaIndex kept _node_content: get_nodes falls back to it
    bound = registry.bind(pg_store, "llama_index")
    writer: Any = bound.writer
    with pg_store._engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO {writer.table} (node_id, text, metadata_, embedding) "
            "VALUES ('legacy', 'old text', '{\"n\": 99}', %s)",
            (str([float(x) for x in hash_embed("legacy")]),),
        )
    writer.write_markers(ids[:2], "/ledger")  # a marker in the row is not node metadata
    want = [*ids, "legacy"]
    got = bound.nodes(want)
    assert _seen(got) == _seen(pg_store.get_nodes(node_ids=want))
    assert sorted(n.node_id for n in got) == sorted(want)
    assert all(n.embedding is None for n in got)


def test_qdrant_nodes_equal_get_nodes(tmp_path: Path) -> None:
    mod = need("llama_index.vector_stores.qdrant")
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(tmp_path / "q"))
    store = mod.QdrantVectorStore(
        "docs",
        client=client,
        dense_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
    )
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"n{n}")) for n in range(12)]
    store.add(_nodes(ids))
    legacy = str(uuid.uuid5(uuid.NAMESPACE_URL, "legacy"))
    client.upsert(  # a point written without _node_content: parsed by the legacy path
        "docs",
        [
            models.PointStruct(
                id=legacy, vector=hash_embed("legacy").tolist(), payload={"text": "old"}
            )
        ],
    )
    bound = registry.bind(store, "llama_index")
    bound.writer.write_markers(ids[:2], "/ledger")  # type: ignore[attr-defined]
    want = [*ids, legacy]
    got = bound.nodes(want)
    assert _seen(got) == _seen(store.get_nodes(node_ids=want))
    assert sorted(n.node_id for n in got) == sorted(want)
    client.close()


def test_milvus_nodes_equal_get_nodes(tmp_path: Path) -> None:
    mod = need("llama_index.vector_stores.milvus")
    store = mod.MilvusVectorStore(uri=str(tmp_path / "m.db"), dim=DIM, overwrite=True)
    ids = [f"n{n}" for n in range(12)]
    store.add(_nodes(ids))
    bound = registry.bind(store, "llama_index")
    got = bound.nodes(ids)
    assert _seen(got) == _seen(store.get_nodes(node_ids=ids))
    assert sorted(n.node_id for n in got) == sorted(ids)
    assert all(n.embedding is None for n in got)
    store.client.close()
