"""The machine and the versions of everything a store case runs on."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import machine

PACKAGES = [
    "nudge-integrations",
    "numpy",
    "torch",
    "faiss-cpu",
    "chromadb",
    "milvus-lite",
    "pymilvus",
    "qdrant-client",
    "lancedb",
    "pylance",
    "pyarrow",
    "pgserver",
    "pgvector",
    "psycopg",
    "SQLAlchemy",
    "llama-index-core",
    "llama-index-vector-stores-chroma",
    "llama-index-vector-stores-faiss",
    "llama-index-vector-stores-milvus",
    "llama-index-vector-stores-qdrant",
    "llama-index-vector-stores-lancedb",
    "llama-index-vector-stores-postgres",
    "langchain-core",
    "langchain-community",
    "langchain-chroma",
    "langchain-milvus",
    "langchain-qdrant",
    "langchain-postgres",
]


def versions() -> tuple[dict[str, Any], dict[str, str]]:
    """(machine with thread counts, package versions)."""
    import faiss

    facts = machine()
    facts["faiss_omp_threads"] = faiss.omp_get_max_threads()
    facts["thread_env"] = {
        k: os.environ[k]
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        if k in os.environ
    }
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return facts, found
