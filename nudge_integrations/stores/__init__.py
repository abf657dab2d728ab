"""Framework-free in-place vector writers shared by the LlamaIndex and LangChain adapters."""

from nudge_integrations.stores.base import StoreWriter, require_inner_product, swap_vectors
from nudge_integrations.stores.native import (
    ChromaWriter,
    FaissFlatWriter,
    MilvusWriter,
    QdrantWriter,
)

__all__ = [
    "ChromaWriter",
    "FaissFlatWriter",
    "MilvusWriter",
    "QdrantWriter",
    "StoreWriter",
    "require_inner_product",
    "swap_vectors",
]
