"""FAISS flat indexes, updated in place."""

from nudge_integrations.stores.faiss.writer import FaissFlatWriter

__all__ = ["FaissFlatWriter"]
