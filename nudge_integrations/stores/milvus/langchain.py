"""LangChain's ``Milvus`` (``langchain_milvus``, Milvus Lite or server) through its
``MilvusClient``: string primary keys, a text field, exactly one dense vector field,
metadata in a JSON field or the other fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nudge_integrations.compat import langchain as compat
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.milvus.writer import MilvusWriter, milvus_metric

_DENSE = {"FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR"}


def _type_name(field: dict[str, Any] | None) -> str:
    """A described field's data type name, upper case ('' when unknown)."""
    name = getattr((field or {}).get("type"), "name", "")
    return str(getattr(name, "value", name)).upper()


def bind(store: Any) -> Bound:
    """A ``langchain_milvus.Milvus`` bound for the lifecycle."""
    client = getattr(store, "client", None)
    if client is None or not hasattr(client, "describe_collection"):
        raise NudgeError(
            f"{type(store).__name__} exposes no MilvusClient (store.client): use "
            "langchain_milvus.Milvus (the langchain_community one is not supported)"
        )
    collection: str = store.collection_name
    if not client.has_collection(collection):
        raise NudgeError(f"the Milvus collection {collection!r} does not exist yet")
    fields = {f["name"]: f for f in client.describe_collection(collection)["fields"]}
    id_field = compat.milvus_primary_field(store)
    text_field = compat.milvus_text_field(store)
    vector_fields = compat.milvus_vector_fields(store)
    id_type = _type_name(fields.get(id_field))
    if id_type != "VARCHAR":
        raise NudgeError(
            f"the Milvus collection {collection!r} has {id_type or 'non-string'} primary "
            "keys (auto_id=True): build the store with auto_id=False and document ids"
        )
    dense = [f for f in vector_fields if _type_name(fields.get(f)) in _DENSE]
    if len(dense) != 1:
        raise NudgeError(
            f"the Milvus collection {collection!r} has {len(dense)} dense vector fields "
            f"({', '.join(dense) or 'none'}); exactly one is supported"
        )
    vector_field = dense[0]
    metric = milvus_metric(client, collection, vector_field)
    if not metric:  # no index described yet: the one the store was told to build
        params = store.index_params
        if isinstance(params, list):
            params = dict(zip(vector_fields, params, strict=False)).get(vector_field)
        metric = str((params or {}).get("metric_type", ""))
    writer = MilvusWriter(
        client,
        collection,
        id_field=id_field,
        vector_field=vector_field,
        metric=metric,
        uri=compat.milvus_connection_args(store).get("uri"),
    )
    meta_field = compat.milvus_metadata_field(store)
    skip = {id_field, text_field, *vector_fields}

    def read_texts(ids: list[str]) -> dict[str, str]:
        rows = client.get(collection_name=collection, ids=ids, output_fields=[text_field])
        return {str(r[id_field]): r.get(text_field) or "" for r in rows}

    def records() -> Iterator[list[Record]]:
        for rows in writer.rows(["*"]):
            page = []
            for row in rows:
                if meta_field:
                    meta = dict(row.get(meta_field) or {})
                else:
                    meta = {k: v for k, v in row.items() if k not in skip}
                vec = np.asarray(row[vector_field], dtype=np.float32)
                page.append(Record(str(row[id_field]), row.get(text_field) or "", meta, vec))
            yield page

    return Bound(writer, type(store).__name__, read_texts=read_texts, records=records)
