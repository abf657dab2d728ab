"""Milvus collections (Milvus Lite or a server)."""

from nudge_integrations.stores.milvus.writer import MilvusWriter, milvus_metric

__all__ = ["MilvusWriter", "milvus_metric"]
