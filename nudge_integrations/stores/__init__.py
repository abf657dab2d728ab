"""Framework-free in-place vector writers shared by the LlamaIndex and LangChain adapters,
and the nudge ledger every write goes through."""

from nudge_integrations.stores.base import StoreWriter, require_inner_product
from nudge_integrations.stores.lancedb import LanceDBWriter
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import clear_markers, ledger_root
from nudge_integrations.stores.native import (
    ChromaWriter,
    FaissFlatWriter,
    MilvusWriter,
    QdrantWriter,
)
from nudge_integrations.stores.pgvector import PgVectorWriter
from nudge_integrations.stores.qdrant import QdrantDenseWriter

__all__ = [
    "ChromaWriter",
    "FaissFlatWriter",
    "LanceDBWriter",
    "LedgerError",
    "LedgerStatus",
    "MilvusWriter",
    "NudgeLedger",
    "PgVectorWriter",
    "QdrantDenseWriter",
    "QdrantWriter",
    "StoreWriter",
    "SwapReport",
    "clear_markers",
    "ledger_root",
    "require_inner_product",
]
