"""Chroma collections (embedded, persistent or a server)."""

from nudge_integrations.stores.chroma.writer import ChromaWriter

__all__ = ["ChromaWriter"]
