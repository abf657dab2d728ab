"""A store added by docs/contributing-a-store.md alone: a SQLite file seen by LangChain
(``SqliteLangChainStore``) and LlamaIndex (``SqliteLlamaIndexStore``), its writer with
tiny limits, registered from outside the package by the shared store suite's fixture."""

from .writer import SqliteWriter

__all__ = ["SqliteWriter"]
