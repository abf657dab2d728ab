"""In-process stores: LlamaIndex's ``SimpleVectorStore``, LangChain's ``InMemoryVectorStore``."""

from nudge_integrations.stores.memory.writer import InMemoryWriter, SimpleWriter

__all__ = ["InMemoryWriter", "SimpleWriter"]
