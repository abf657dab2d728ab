"""Every vector store NUDGE fits against and swaps into, one folder each
(``stores/<name>/``: its writer with its limits, its LlamaIndex, LangChain and command-line
bindings), registered once (:mod:`~nudge_integrations.stores.registry`); and the nudge
ledger every write goes through. Framework-free: both adapters and the CLI use it."""

from nudge_integrations.stores.base import (
    BatchedWriter,
    KeepsMarkers,
    Limits,
    Located,
    Location,
    MarkedWriter,
    StoreWriter,
    require_inner_product,
)
from nudge_integrations.stores.binding import Bound, Record
from nudge_integrations.stores.chroma import ChromaWriter
from nudge_integrations.stores.faiss import FaissFlatWriter
from nudge_integrations.stores.lancedb import LanceDBWriter
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger
from nudge_integrations.stores.lifecycle import LedgerStatus, SwapReport
from nudge_integrations.stores.location import clear_markers, ledger_root
from nudge_integrations.stores.memory import InMemoryWriter, SimpleWriter
from nudge_integrations.stores.milvus import MilvusWriter
from nudge_integrations.stores.native_fit import fit_store
from nudge_integrations.stores.pgvector import PgVectorTableWriter, PgVectorWriter
from nudge_integrations.stores.qdrant import (
    QdrantDenseWriter,
    QdrantLocalWriter,
    QdrantServerWriter,
    QdrantWriter,
)
from nudge_integrations.stores.registry import (
    StoreEntry,
    bind,
    cli_kinds,
    entries,
    entry,
    entry_for,
    register,
    unregister,
)

__all__ = [
    "BatchedWriter",
    "Bound",
    "ChromaWriter",
    "FaissFlatWriter",
    "InMemoryWriter",
    "KeepsMarkers",
    "LanceDBWriter",
    "LedgerError",
    "LedgerStatus",
    "Limits",
    "Located",
    "Location",
    "MarkedWriter",
    "MilvusWriter",
    "NudgeLedger",
    "PgVectorTableWriter",
    "PgVectorWriter",
    "QdrantDenseWriter",
    "QdrantLocalWriter",
    "QdrantServerWriter",
    "QdrantWriter",
    "Record",
    "SimpleWriter",
    "StoreEntry",
    "StoreWriter",
    "SwapReport",
    "bind",
    "clear_markers",
    "cli_kinds",
    "entries",
    "entry",
    "entry_for",
    "fit_store",
    "ledger_root",
    "register",
    "require_inner_product",
    "unregister",
]
