"""The experimental.Nudge calls work unchanged after switching the import, without its defects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode

from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index.compat import Nudge

from .conftest import HashEmbedding


def test_tutorial_flow(qa: dict[str, Any], embed_model: HashEmbedding) -> None:
    train, val = qa["train"], qa["val"]
    nudge = Nudge(train_dataset=train, val_dataset=val, embed_model=embed_model, use_nudge_n=True)
    nudge.finetune()
    emb = nudge.get_finetuned_corpus_embeddings()
    assert isinstance(emb, np.ndarray) and emb.shape == (len(train.corpus), 64)
    # the tutorial builds nodes from corpus order + matrix rows
    nodes = [
        TextNode(id_=i, text=t, embedding=emb[k].tolist())
        for k, (i, t) in enumerate(nudge.corpus.items())
    ]
    index = VectorStoreIndex(nodes=nodes, embed_model=embed_model)
    expect = nudge.engine.get_finetuned_corpus_embeddings()
    for node in nodes[:5]:
        np.testing.assert_allclose(index.vector_store.get(node.node_id), expect[node.node_id])
    assert nudge.engine.gamma_ >= 0


def test_validation_is_optional(qa: dict[str, Any], embed_model: HashEmbedding) -> None:
    nudge = Nudge(embed_model, qa["train"])
    nudge.finetune()
    assert nudge.engine.result_ is not None
    assert nudge.engine.result_.validation_source == "split"


def test_validation_corpus_need_not_be_a_subset(embed_model: HashEmbedding) -> None:
    train = QADataset(
        queries={"q1": "alpha beta", "q2": "gamma delta"},
        corpus={"d1": "alpha beta text", "d2": "gamma delta text"},
        relevant_docs={"q1": ["d1"], "q2": ["d2"]},
    )
    val = QADataset(
        queries={"v1": "epsilon zeta"},
        corpus={"d3": "epsilon zeta text", "d1": "alpha beta text"},
        relevant_docs={"v1": ["d3"]},
    )
    nudge = Nudge(embed_model, train, val)
    nudge.finetune()
    assert list(nudge.corpus) == ["d1", "d2", "d3"]
    assert nudge.get_finetuned_corpus_embeddings().shape == (3, 64)


def test_query_without_relevant_docs_is_a_clear_error(embed_model: HashEmbedding) -> None:
    bad = {"queries": {"q1": "x"}, "corpus": {"d1": "y"}, "relevant_docs": {}, "mode": "text"}
    with pytest.raises(NudgeError, match="query 'q1' has no relevant docs"):
        Nudge(embed_model, bad)


def test_insert_refuses_existing_ids_and_refits_from_base(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    full = qa["all"]
    docs = list(full.corpus)
    first, second = set(docs[:60]), set(docs[60:])

    def part(doc_ids: set[str]) -> QADataset:
        qids = [q for q in full.query_ids if set(full.relevant_docs[q]) <= doc_ids]
        sub = full.subset(qids)
        return QADataset(
            queries=sub.queries,
            corpus={d: full.corpus[d] for d in docs if d in doc_ids},
            relevant_docs=sub.relevant_docs,
        )

    nudge = Nudge(embed_model, part(first))
    nudge.finetune()
    with pytest.raises(DuplicateIdError, match="already exists"):
        nudge.insert_data_and_finetune(part(first))
    nudge.insert_data_and_finetune(part(second))
    assert nudge.get_finetuned_corpus_embeddings().shape == (len(docs), 64)
    assert list(nudge.corpus) == docs
    assert nudge.engine.result_ is not None
    assert nudge.engine.result_.n_touched > 0
