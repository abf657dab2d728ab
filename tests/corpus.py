"""A small real corpus for adapter tests: Python's help topics with inverse-cloze queries."""

from __future__ import annotations

from functools import cache

from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pseudo_queries import inverse_cloze
from nudge_integrations.data.splits import paper_split
from nudge_integrations.demo import python_docs_corpus


@cache
def python_docs_qa() -> tuple[QADataset, dict[str, QADataset]]:
    """80 passages, up to 4 questions each, split with the paper's protocol."""
    dataset = inverse_cloze(python_docs_corpus(max_passages=80), per_doc=4)
    return dataset, paper_split(dataset)


def topic(doc_id: str) -> str:
    """The help topic a passage id came from (metadata for the tests' documents)."""
    return doc_id.rsplit("-", 1)[0]
