"""NUDGE for LangChain (extra ``langchain``): fitter, retriever, stores, training queries."""

from nudge_integrations.langchain.evaluation import (
    compare_retrievers,
    comparison_table,
    evaluate_retriever,
)
from nudge_integrations.langchain.fitter import NudgeFitter, ReapplyReport
from nudge_integrations.langchain.ledger import (
    afinish,
    arevert,
    arollback,
    astatus,
    finish,
    revert,
    rollback,
    status,
)
from nudge_integrations.langchain.qa_generation import (
    GeneratedQuestions,
    agenerate_qa_pairs,
    generate_pseudo_queries,
    generate_qa_pairs,
)
from nudge_integrations.langchain.recall import index_recall
from nudge_integrations.langchain.retriever import NudgeRetriever

__all__ = [
    "GeneratedQuestions",
    "NudgeFitter",
    "NudgeRetriever",
    "ReapplyReport",
    "afinish",
    "agenerate_qa_pairs",
    "arevert",
    "arollback",
    "astatus",
    "compare_retrievers",
    "comparison_table",
    "evaluate_retriever",
    "finish",
    "generate_pseudo_queries",
    "generate_qa_pairs",
    "index_recall",
    "revert",
    "rollback",
    "status",
]
