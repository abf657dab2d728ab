"""Framework-free in-place vector writers shared by the LlamaIndex and LangChain adapters,
and the nudge ledger every write goes through."""

from nudge_integrations.stores.base import StoreWriter, require_inner_product
from nudge_integrations.stores.chroma import ChromaWriter
from nudge_integrations.stores.faiss import FaissFlatWriter
from nudge_integrations.stores.lancedb import LanceDBWriter
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import clear_markers, ledger_root
from nudge_integrations.stores.memory import InMemoryWriter, SimpleWriter
from nudge_integrations.stores.milvus import MilvusWriter
from nudge_integrations.stores.native import QdrantWriter
from nudge_integrations.stores.pgvector import PgVectorWriter
from nudge_integrations.stores.qdrant import QdrantDenseWriter

__all__ = [
    "ChromaWriter",
    "FaissFlatWriter",
    "InMemoryWriter",
    "LanceDBWriter",
    "LedgerError",
    "LedgerStatus",
    "MilvusWriter",
    "NudgeLedger",
    "PgVectorWriter",
    "QdrantDenseWriter",
    "QdrantWriter",
    "SimpleWriter",
    "StoreWriter",
    "SwapReport",
    "clear_markers",
    "ledger_root",
    "require_inner_product",
]
