"""NUDGE for LangChain (extra ``langchain``): training queries for documents."""

from nudge_integrations.langchain.qa_generation import (
    GeneratedQuestions,
    agenerate_qa_pairs,
    generate_qa_pairs,
)

__all__ = ["GeneratedQuestions", "agenerate_qa_pairs", "generate_qa_pairs"]
