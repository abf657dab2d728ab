"""The nudge ledger through LlamaIndex: a second engine on a nudged index starts from the
base, revert after deletes restores what is left, changed text is never overwritten, and
engine.nodes carry their base embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode

from nudge_integrations.llama_index import NudgeFinetuneEngine, status

from .conftest import HashEmbedding


def table(index: VectorStoreIndex) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32) for k, v in index.vector_store.data.embedding_dict.items()}


def fitted(qa: dict[str, Any], embed_model: HashEmbedding, index: Any) -> NudgeFinetuneEngine:
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    return eng


def test_a_second_engine_on_a_nudged_index_starts_from_the_base(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    original = table(index)
    e1 = fitted(qa, embed_model, index)
    e1.apply_to_index(index)  # the sequence
    assert status(index).state == "nudged"
    e2 = fitted(qa, embed_model, index)
    for nid, row in zip(e2.node_ids, e2.base_embeddings_matrix(), strict=True):
        np.testing.assert_array_equal(row, original[nid])
    assert e2.gamma_ == e1.gamma_
    e2.apply_to_index(index)
    e2.revert_index(index)
    for nid, vec in table(index).items():
        np.testing.assert_array_equal(vec, original[nid])
    assert status(index).state == "base"


def test_revert_after_deletes_restores_every_record_still_present(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    original = table(index)
    eng = fitted(qa, embed_model, index)
    written = list(eng.apply_to_index(index))
    gone_from_engine, gone_from_index = written[0], written[1]
    eng.delete_nodes([gone_from_engine])  # the engine forgets it; the store still has it
    index.delete_nodes([gone_from_index])  # this one leaves the store too
    with pytest.warns(UserWarning, match="no longer in the store"):
        report = eng.revert_index(index)
    assert report.missing == [gone_from_index]
    assert gone_from_engine in report.restored
    now = table(index)
    assert gone_from_index not in now
    for nid, vec in now.items():
        np.testing.assert_array_equal(vec, original[nid])


def test_changed_text_is_skipped_and_reported(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    eng = fitted(qa, embed_model, index)
    nid = next(iter(eng.apply_to_index(index)))
    index.delete_nodes([nid])
    index.insert_nodes([TextNode(id_=nid, text="entirely new text")])
    fresh = table(index)[nid]
    with pytest.warns(UserWarning, match="text changed"):
        report = eng.revert_index(index)
    assert report.changed == [nid]
    np.testing.assert_array_equal(table(index)[nid], fresh)


def test_engine_nodes_carry_their_base_embeddings(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    eng = fitted(qa, embed_model, index)
    eng.apply_to_index(index)
    nodes = eng.nodes
    assert all(n.embedding is not None for n in nodes)
    calls = embed_model.text_calls
    other = NudgeFinetuneEngine(qa["train"], embed_model, corpus=nodes, val_dataset=qa["val"])
    other.finetune()
    assert embed_model.text_calls == calls  # nothing re-embedded
    assert other.gamma_ == eng.gamma_
    np.testing.assert_array_equal(other.base_embeddings_matrix(), eng.base_embeddings_matrix())
