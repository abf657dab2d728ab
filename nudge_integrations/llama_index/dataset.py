"""``EmbeddingQAFinetuneDataset`` for LlamaIndex versions that no longer ship it.

LlamaIndex core 0.14.21 removed the class; notebooks that build or load QA pairs with it
keep working by importing it from ``nudge_integrations.llama_index`` instead. It is a
:class:`QADataset` (ids checked on construction) with the old fields, ``from_json``,
``save_json`` and ``query_docid_pairs``, and reads and writes the same JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nudge_integrations.data.dataset import QADataset


@dataclass
class EmbeddingQAFinetuneDataset(QADataset):
    """``queries`` (id -> text), ``corpus`` (id -> text), ``relevant_docs`` (query id ->
    doc ids) and ``mode``, as in LlamaIndex; build it with keywords as before."""

    @property
    def query_docid_pairs(self) -> list[tuple[str, list[str]]]:
        """``(query text, relevant doc ids)`` for every query, in order."""
        return [(text, self.relevant_docs[qid]) for qid, text in self.queries.items()]

    @classmethod
    def from_json(cls, path: str | Path) -> EmbeddingQAFinetuneDataset:
        """Read a file written by :meth:`save_json` or by LlamaIndex."""
        return cls.from_qa(QADataset.from_json(path))

    @classmethod
    def from_qa(cls, dataset: QADataset) -> EmbeddingQAFinetuneDataset:
        """The same data as this type (e.g. what ``generate_qa_embedding_pairs`` returns)."""
        if isinstance(dataset, cls):
            return dataset
        return cls(
            queries=dataset.queries,
            corpus=dataset.corpus,
            relevant_docs=dataset.relevant_docs,
            mode=dataset.mode,
            relevance_scores=dataset.relevance_scores,
        )
