"""NUDGE for LlamaIndex: finetune engine, retriever, in-place store updates (extra llama-index)."""

from nudge_integrations.llama_index.dataset import EmbeddingQAFinetuneDataset
from nudge_integrations.llama_index.engine import NudgeFinetuneEngine
from nudge_integrations.llama_index.evaluation import (
    compare_retrievers,
    comparison_table,
    evaluate_retriever,
    ranked_node_ids,
)
from nudge_integrations.llama_index.ledger import (
    afinish,
    arevert,
    arollback,
    astatus,
    finish,
    revert,
    rollback,
    status,
)
from nudge_integrations.llama_index.qa_generation import (
    agenerate_qa_embedding_pairs,
    generate_pseudo_queries,
    generate_qa_embedding_pairs,
)
from nudge_integrations.llama_index.recall import index_recall
from nudge_integrations.llama_index.retriever import NudgeRetriever

__all__ = [
    "EmbeddingQAFinetuneDataset",
    "NudgeFinetuneEngine",
    "NudgeRetriever",
    "afinish",
    "agenerate_qa_embedding_pairs",
    "arevert",
    "arollback",
    "astatus",
    "compare_retrievers",
    "comparison_table",
    "evaluate_retriever",
    "finish",
    "generate_pseudo_queries",
    "generate_qa_embedding_pairs",
    "index_recall",
    "ranked_node_ids",
    "revert",
    "rollback",
    "status",
]
