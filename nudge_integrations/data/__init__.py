"""QA datasets: the LlamaIndex-compatible type, BEIR / Hugging Face / file loaders, splits."""

from nudge_integrations.data.beir import beir_splits, load_beir
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.hf import from_hf, load_files
from nudge_integrations.data.splits import paper_split, split_dataset

__all__ = [
    "QADataset",
    "beir_splits",
    "from_hf",
    "load_beir",
    "load_files",
    "paper_split",
    "split_dataset",
]
