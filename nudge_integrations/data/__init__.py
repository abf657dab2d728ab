"""QA datasets: the LlamaIndex-compatible type, BEIR / Hugging Face / file loaders, splits."""

from nudge_integrations.data.beir import beir_splits, load_beir
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.download import beir_folder
from nudge_integrations.data.hf import from_hf, load_files
from nudge_integrations.data.qa_generation import (
    DEFAULT_QA_PROMPT,
    QAGenerationState,
    QAGenerationWarning,
    agenerate_qa_dataset,
    generate_qa_dataset,
    parse_questions,
)
from nudge_integrations.data.splits import paper_split, split_dataset

__all__ = [
    "DEFAULT_QA_PROMPT",
    "QADataset",
    "QAGenerationState",
    "QAGenerationWarning",
    "agenerate_qa_dataset",
    "beir_folder",
    "beir_splits",
    "from_hf",
    "generate_qa_dataset",
    "load_beir",
    "load_files",
    "paper_split",
    "parse_questions",
    "split_dataset",
]
