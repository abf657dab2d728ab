"""A drop-in for ``llama_index.experimental.Nudge``: change the import, keep the calls.

Same constructor arguments and methods, minus the old defects: validation is optional, a
validation corpus need not be a subset of the training corpus, a query without relevant
docs or an unknown id gets a clear error, re-inserting an id is refused, texts are
embedded in batches, and every (re-)fit starts from the base embeddings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from numpy.typing import NDArray

from nudge_integrations.core.errors import DuplicateIdError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index.corpus import nodes_from_dataset
from nudge_integrations.llama_index.engine import NudgeFinetuneEngine

__all__ = ["Nudge"]


class Nudge:
    """``Nudge(embed_model, train_dataset, val_dataset=None, use_nudge_n=True, device=None)``.

    ``get_finetuned_corpus_embeddings()`` returns a matrix whose rows follow the corpus
    order (training corpus, then validation-only docs, then inserted batches), as before;
    ``engine`` exposes the full :class:`NudgeFinetuneEngine` (ids, index, retriever, stores).
    """

    def __init__(
        self,
        embed_model: BaseEmbedding,
        train_dataset: Any,
        val_dataset: Any = None,
        use_nudge_n: bool = True,
        device: str | None = None,
    ) -> None:
        train = QADataset.from_any(train_dataset)
        val = None if val_dataset is None else QADataset.from_any(val_dataset)
        self.embed_model = embed_model
        self.engine = NudgeFinetuneEngine(
            train,
            embed_model,
            corpus=nodes_from_dataset(train, val),
            val_dataset=val,
            variant="N" if use_nudge_n else "M",
            device=device or "auto",
        )
        self.corpus: dict[str, str] = {n.node_id: n.get_content() for n in self.engine.nodes}

    @property
    def corpus_embeddings(self) -> NDArray[np.float32]:
        """Current corpus matrix: nudged after ``finetune()``, base before."""
        if self.engine.result_ is None:
            return self.engine.base_embeddings_matrix()
        return self.engine.finetuned_matrix()

    def finetune(self) -> None:
        self.engine.finetune()

    def insert_data_and_finetune(
        self, new_train_dataset_batch: Any, new_val_dataset_batch: Any = None
    ) -> None:
        """Add a batch of new docs with their QA pairs and re-fit the whole corpus from base.

        Ids already in the corpus are refused (the old method meant to, but crashed).
        """
        train = QADataset.from_any(new_train_dataset_batch)
        val = None if new_val_dataset_batch is None else QADataset.from_any(new_val_dataset_batch)
        nodes = [n for n in nodes_from_dataset(train, val) if n.node_id not in self.corpus]
        clash = [d for d in train.corpus if d in self.corpus]
        if clash:
            raise DuplicateIdError(
                f"ID {clash[0]!r} already exists in the existing corpus. New IDs must be unique."
            )
        self.engine.insert_nodes(nodes, train_dataset=train, val_dataset=val)
        self.corpus.update({n.node_id: n.get_content() for n in nodes})

    def get_finetuned_corpus_embeddings(self) -> NDArray[np.float32]:
        return self.corpus_embeddings
