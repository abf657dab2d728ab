"""Qdrant (local mode or a server): one writer for both frameworks and the command line,
chosen by where the collection lives."""

from __future__ import annotations

from typing import Any

from nudge_integrations.stores.qdrant.writer import (
    QdrantLocalWriter,
    QdrantServerWriter,
    QdrantWriter,
    check_point_ids,
    dense_vector_name,
    qdrant_writer,
)

__all__ = [
    "QdrantLocalWriter",
    "QdrantServerWriter",
    "QdrantWriter",
    "check_point_ids",
    "dense_vector_name",
    "qdrant_writer",
]


# Transitional: what the adapters imported from the module this folder replaces, until
# they bind through the registry (issue 17); then this goes.
def QdrantDenseWriter(client: Any, collection: str, *, preferred: str = "") -> QdrantWriter:  # noqa: N802
    """The LlamaIndex adapter's old name for :func:`qdrant_writer` (UUID ids only)."""
    return qdrant_writer(client, collection, vector_name=preferred, integer_ids=False)
