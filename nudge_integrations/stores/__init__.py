"""Framework-free in-place vector writers shared by the LlamaIndex and LangChain adapters,
and the nudge ledger every write goes through."""

from nudge_integrations.stores.base import StoreWriter, require_inner_product, swap_vectors
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import clear_markers, ledger_root
from nudge_integrations.stores.native import (
    ChromaWriter,
    FaissFlatWriter,
    MilvusWriter,
    QdrantWriter,
)

__all__ = [
    "ChromaWriter",
    "FaissFlatWriter",
    "LedgerError",
    "LedgerStatus",
    "MilvusWriter",
    "NudgeLedger",
    "QdrantWriter",
    "StoreWriter",
    "SwapReport",
    "clear_markers",
    "ledger_root",
    "require_inner_product",
    "swap_vectors",
]
