"""LangChain's ``PGVector`` (``langchain-postgres``, sync mode): the rows of its collection
in ``langchain_pg_embedding`` (``id``, ``document``, ``cmetadata``, ``embedding``), ranked
by its ``distance_strategy``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nudge_integrations.compat.langchain import pgvector_distance, pgvector_engine
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.markers import without_marker
from nudge_integrations.stores.pgvector.writer import PgVectorWriter

_SIMILARITY = {"inner": "dot", "cosine": "cosine", "l2": "l2"}


def bind(store: Any) -> Bound:
    """A LangChain ``PGVector`` bound for the lifecycle (its collection's rows only)."""
    engine = pgvector_engine(store)
    if engine is None:
        raise NudgeError(
            "this PGVector was made with async_mode=True and has no sync engine: make a "
            "PGVector on the same connection and collection_name without async_mode to "
            "fit, swap and revert (it sees the same rows)"
        )
    rows, collections = store.EmbeddingStore.__table__, store.CollectionStore
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            f"SELECT uuid FROM {collections.__tablename__} WHERE name = %s",
            (store.collection_name,),
        ).fetchone()
    if found is None:
        raise NudgeError(
            f"the PGVector collection {store.collection_name!r} does not exist in "
            "this database: check collection_name and the connection"
        )
    writer = PgVectorWriter(
        engine,
        rows.name,
        schema=rows.schema,
        id_column="id",
        vector_column="embedding",
        metadata_column="cmetadata",
        scope=("collection_id", str(found[0])),
        similarity=_SIMILARITY.get(pgvector_distance(store)),
        collection=store.collection_name,
    )

    def read_texts(ids: list[str]) -> dict[str, str]:
        return {i: text or "" for i, (text,), _ in writer.rows(["document"], ids)}

    def records() -> Iterator[list[Record]]:
        for page in writer.pages(["document", "cmetadata"], vectors=True):
            yield [
                Record(i, text or "", without_marker(meta), vec) for i, (text, meta), vec in page
            ]

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
