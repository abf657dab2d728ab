"""NUDGE for LlamaIndex: finetune engine, retriever, in-place store updates (extra llama-index)."""

from nudge_integrations.llama_index.engine import NudgeFinetuneEngine
from nudge_integrations.llama_index.retriever import NudgeRetriever

__all__ = ["NudgeFinetuneEngine", "NudgeRetriever"]
