"""A Qdrant collection whose dense vector is found from its config (unnamed, or named as
LlamaIndex names it: ``text-dense`` when hybrid), with point ids checked to be UUIDs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.stores.native import QdrantWriter


def dense_vector_name(client: Any, collection: str, preferred: str = "") -> str:
    """The name of the collection's dense float32 vector ("" when unnamed), preferring
    ``preferred`` (the one the store queries); a clear error when there is none."""
    if not client.collection_exists(collection):
        raise NudgeError(
            f"the Qdrant collection {collection!r} does not exist yet: add the nodes first"
        )
    params = client.get_collection(collection).config.params
    vectors = params.vectors
    if not vectors:  # None or {}: sparse vectors only
        sparse = ", ".join(params.sparse_vectors or {}) or "none"
        raise NudgeError(
            f"the Qdrant collection {collection!r} holds sparse vectors only ({sparse}): NUDGE "
            "moves dense vectors. Build the collection with a dense vector (LlamaIndex keeps "
            "one with enable_hybrid=True), or fit from the nodes and serve as_retriever()"
        )
    if not isinstance(vectors, dict):
        name, config = "", vectors
    elif preferred in vectors:
        name, config = preferred, vectors[preferred]
    elif "" in vectors:
        name, config = "", vectors[""]
    else:
        raise NudgeError(
            f"the Qdrant collection {collection!r} has dense vectors "
            f"{', '.join(map(repr, vectors))} but the store queries {preferred!r}: build the "
            "store with dense_vector_name= naming the one its nodes were embedded into"
        )
    if getattr(config, "multivector_config", None) is not None:
        raise NudgeError(
            f"the Qdrant vector {name!r} of {collection!r} is a multi-vector: NUDGE moves one "
            "vector per record"
        )
    datatype = str(getattr(config.datatype, "value", config.datatype) or "float32").lower()
    if datatype != "float32":
        raise NudgeError(
            f"the Qdrant vector {name!r} of {collection!r} stores {datatype} values, which "
            "cannot hold the nudged vectors exactly: use the default float32 datatype"
        )
    return name


def check_point_ids(ids: Sequence[str]) -> None:
    """Refuse ids that cannot be Qdrant point ids (this package handles UUID ones)."""
    for i in ids:
        try:
            canonical = str(uuid.UUID(str(i)))
        except ValueError:
            canonical = None
        if canonical == i:
            continue
        if canonical is not None:
            raise UnknownIdError(
                f"Qdrant keeps UUID point ids in lower-case hyphenated form, so id {i!r} is "
                f"stored as {canonical!r}: give your records (and QA data) ids in that form"
            )
        example = str(uuid.uuid5(uuid.NAMESPACE_URL, str(i)))
        raise UnknownIdError(
            f"Qdrant point ids are UUIDs (or unsigned integers, which this package does not "
            f"write), and {i!r} is not one, so no point has it. Give your records UUID ids, "
            f"e.g. str(uuid.uuid5(uuid.NAMESPACE_URL, {i!r})) = {example!r}, and map the ids "
            "in your QA data the same way (docs/integrations.md, Qdrant)"
        )


class QdrantDenseWriter(QdrantWriter):
    """:class:`QdrantWriter` on the collection's dense vector, with ids checked."""

    def __init__(self, client: Any, collection: str, *, preferred: str = "") -> None:
        name = dense_vector_name(client, collection, preferred)
        super().__init__(client, collection, vector_name=name)

    def read_markers(self, ids: Sequence[str]) -> dict[str, str]:
        check_point_ids(ids)
        return super().read_markers(ids)

    def write_markers(self, ids: Sequence[str], value: str | None) -> None:
        check_point_ids(ids)
        super().write_markers(ids, value)

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        check_point_ids(ids)
        return super().read(ids)

    def write(self, vectors: Mapping[str, NDArray[np.float32]]) -> None:
        check_point_ids(list(vectors))
        super().write(vectors)
