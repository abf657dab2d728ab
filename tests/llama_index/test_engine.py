"""NudgeFinetuneEngine with real LlamaIndex objects: nodes, docstore, index, retriever."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.storage.docstore import SimpleDocumentStore

from nudge_integrations import NudgeN
from nudge_integrations.core.errors import DuplicateIdError, MetricMismatchError, UnknownIdError
from nudge_integrations.llama_index import NudgeFinetuneEngine, NudgeRetriever

from .conftest import HashEmbedding


def engine(qa: dict[str, Any], embed_model: HashEmbedding, **kw: Any) -> NudgeFinetuneEngine:
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=qa["nodes"], val_dataset=qa["val"], **kw
    )
    eng.finetune()
    return eng


def test_engine_matches_the_core_on_the_same_vectors(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = engine(qa, embed_model)
    ids = [n.node_id for n in qa["nodes"]]
    base = np.stack([embed_model.get_text_embedding(n.get_content("embed")) for n in qa["nodes"]])
    tr, va = qa["train"], qa["val"]
    core = NudgeN(refit_with_validation=True).fit(  # the adapters' default
        base,
        np.stack([embed_model.get_query_embedding(tr.queries[q]) for q in tr.query_ids]),
        tr.judgements(),
        np.stack([embed_model.get_query_embedding(va.queries[q]) for q in va.query_ids]),
        va.judgements(),
        ids=ids,
    )
    assert eng.gamma_ == core.gamma_
    assert eng.result_ is not None and eng.result_.moved_ids == core.moved_ids_
    nudged = eng.get_finetuned_corpus_embeddings()
    assert set(nudged) == set(ids)
    for nid, vec in core.result_.as_dict().items():
        np.testing.assert_allclose(nudged[str(nid)], vec, atol=1e-6)
    assert eng.get_finetuned_model() is embed_model


def test_base_embeddings_are_batched_and_cached(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = engine(qa, embed_model)
    texts, queries = embed_model.text_calls, embed_model.query_calls
    assert texts == len(qa["nodes"])
    texts_q = {qa["train"].queries[q] for q in qa["train"].query_ids}
    texts_q |= {qa["val"].queries[q] for q in qa["val"].query_ids}
    assert queries == len(texts_q)  # each distinct query text embedded once
    eng.finetune()  # a refit embeds nothing again
    assert (embed_model.text_calls, embed_model.query_calls) == (texts, queries)


def test_vectors_already_in_an_index_are_reused(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    before = embed_model.text_calls
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    assert embed_model.text_calls == before  # nothing re-embedded
    assert eng.result_ is not None and len(eng.result_.moved_ids) > 0


def test_docstore_and_dataset_corpus_sources(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    docstore = SimpleDocumentStore()
    docstore.add_documents(qa["nodes"])
    a = NudgeFinetuneEngine(qa["train"], embed_model, corpus=docstore, val_dataset=qa["val"])
    a.finetune()
    c = engine(qa, embed_model)  # the same nodes as a list
    assert a.gamma_ == c.gamma_
    assert a.get_finetuned_corpus_embeddings() == c.get_finetuned_corpus_embeddings()
    b = NudgeFinetuneEngine(qa["train"], embed_model, val_dataset=qa["val"])  # the QA corpus
    b.finetune()
    assert set(b.node_ids) == set(qa["all"].corpus)
    assert b.result_ is not None and len(b.result_.moved_ids) > 0


def test_nudged_index_serves_the_nudged_vectors_with_text_and_metadata(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = engine(qa, embed_model)
    index = eng.as_index()
    test = qa["test"]
    base_index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)

    def ranked(retriever: Any) -> list[list[str]]:
        return [
            [n.node.node_id for n in retriever.retrieve(test.queries[q])] for q in test.query_ids
        ]

    nudged = ranked(index.as_retriever(similarity_top_k=5))
    assert nudged == ranked(eng.as_retriever(similarity_top_k=5))  # same vectors, same order
    assert nudged != ranked(base_index.as_retriever(similarity_top_k=5))
    node = index.docstore.get_node(qa["nodes"][0].node_id)
    assert node.get_content() == qa["nodes"][0].get_content()
    assert node.metadata == qa["nodes"][0].metadata
    vec = index.vector_store.data.embedding_dict[qa["nodes"][0].node_id]
    np.testing.assert_allclose(vec, eng.get_finetuned_corpus_embeddings()[qa["nodes"][0].node_id])


def test_nudge_m_is_never_silently_misranked(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = engine(qa, embed_model, variant="M")
    assert eng.gamma_ > 0
    with pytest.raises(MetricMismatchError, match="SimpleVectorStore ranks by cosine"):
        eng.as_index()
    retriever = eng.as_retriever(similarity_top_k=3)
    assert isinstance(retriever, NudgeRetriever)
    q = qa["test"].queries[qa["test"].query_ids[0]]
    got = retriever.retrieve(q)
    vectors = eng.get_finetuned_corpus_embeddings()
    qv = np.asarray(embed_model.get_query_embedding(q))
    expect = sorted(vectors, key=lambda nid: -float(np.dot(qv, vectors[nid])))[:3]
    assert [n.node.node_id for n in got] == expect  # inner product, not cosine


def test_apply_to_index_and_revert_restore_the_base(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    store = index.vector_store
    base = {nid: list(v) for nid, v in store.data.embedding_dict.items()}
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    written = eng.apply_to_index(index)
    assert written and set(written) == {str(i) for i in eng.result_.moved_ids}  # type: ignore[union-attr]
    nudged = eng.get_finetuned_corpus_embeddings()
    for nid in written:
        np.testing.assert_allclose(store.data.embedding_dict[nid], nudged[nid], atol=1e-6)
    untouched = set(base) - set(written)
    assert all(store.data.embedding_dict[nid] == base[nid] for nid in untouched)
    eng.revert_index(index)
    for nid, vec in base.items():
        np.testing.assert_allclose(store.data.embedding_dict[nid], vec, atol=1e-7)


def test_apply_refuses_m_on_a_cosine_store_and_writes_nothing(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    before = {k: list(v) for k, v in index.vector_store.data.embedding_dict.items()}
    eng = NudgeFinetuneEngine(
        qa["train"], embed_model, corpus=index, val_dataset=qa["val"], variant="M"
    )
    eng.finetune()
    with pytest.raises(MetricMismatchError):
        eng.apply_to_index(index)
    assert index.vector_store.data.embedding_dict == before


def test_a_failed_write_is_rolled_back(
    qa: dict[str, Any], embed_model: HashEmbedding, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nudge_integrations.stores.memory import SimpleWriter

    index = VectorStoreIndex(qa["nodes"], embed_model=embed_model)
    before = {k: list(v) for k, v in index.vector_store.data.embedding_dict.items()}
    eng = NudgeFinetuneEngine(qa["train"], embed_model, corpus=index, val_dataset=qa["val"])
    eng.finetune()
    calls = {"n": 0}
    real = SimpleWriter.write

    def flaky(self: Any, vectors: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("store went away")
        real(self, vectors)

    monkeypatch.setattr(SimpleWriter, "write", flaky)
    with pytest.raises(RuntimeError, match="store went away"):
        eng.apply_to_index(index, batch_size=5)
    assert calls["n"] > 3  # two batches written, the third failed, then the rollback
    after = index.vector_store.data.embedding_dict
    for nid, vec in before.items():
        np.testing.assert_allclose(after[nid], vec, atol=1e-7)


def test_grow_and_shrink_always_from_the_base(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    nodes = qa["nodes"]
    held_out = nodes[-5:]
    held_ids = {n.node_id for n in held_out}
    train = qa["train"]
    keep_q = [q for q in train.query_ids if not set(train.relevant_docs[q]) & held_ids]
    new_q = [q for q in train.query_ids if set(train.relevant_docs[q]) <= held_ids]
    val = qa["val"]
    val_keep = [q for q in val.query_ids if not set(val.relevant_docs[q]) & held_ids]
    eng = NudgeFinetuneEngine(
        train.subset(keep_q), embed_model, corpus=nodes[:-5], val_dataset=val.subset(val_keep)
    )
    eng.finetune()
    with pytest.raises(DuplicateIdError, match="already in the corpus"):
        eng.insert_nodes(nodes[:1])
    eng.insert_nodes(held_out, train_dataset=train.subset(new_q))
    full = NudgeFinetuneEngine(
        train.subset(keep_q + new_q),
        embed_model,
        corpus=nodes[:-5] + held_out,
        val_dataset=val.subset(val_keep),
    )
    full.finetune()
    assert eng.gamma_ == full.gamma_
    a, b = eng.get_finetuned_corpus_embeddings(), full.get_finetuned_corpus_embeddings()
    for nid in a:
        np.testing.assert_allclose(a[nid], b[nid], atol=1e-6)
    eng.delete_nodes([n.node_id for n in held_out])
    assert not held_ids & set(eng.node_ids)
    with pytest.raises(UnknownIdError):
        eng.delete_nodes(["nope"])


def test_unknown_relevant_node_is_named(qa: dict[str, Any], embed_model: HashEmbedding) -> None:
    with pytest.raises(UnknownIdError, match="no node has that id"):
        NudgeFinetuneEngine(qa["train"], embed_model, corpus=qa["nodes"][:10])


def test_persist_round_trip(qa: dict[str, Any], embed_model: HashEmbedding, tmp_path: Any) -> None:
    eng = engine(qa, embed_model, variant="M")
    eng.persist(tmp_path / "nudge")
    calls = embed_model.text_calls
    back = NudgeFinetuneEngine.from_persist_dir(tmp_path / "nudge", embed_model)
    assert back.gamma_ == eng.gamma_ and back.variant == "M"
    assert embed_model.text_calls == calls  # base vectors came from disk
    a, b = eng.get_finetuned_corpus_embeddings(), back.get_finetuned_corpus_embeddings()
    assert a.keys() == b.keys()
    for nid in a:
        np.testing.assert_allclose(a[nid], b[nid], atol=0)
    assert back.result_ is not None and eng.result_ is not None
    assert back.result_.curve == eng.result_.curve
    back.finetune()  # refits from the persisted base and QA data
    assert back.gamma_ == pytest.approx(eng.gamma_)


def test_as_index_into_a_given_storage_context(
    qa: dict[str, Any], embed_model: HashEmbedding
) -> None:
    eng = engine(qa, embed_model)
    ctx = StorageContext.from_defaults()
    index = eng.as_index(storage_context=ctx)
    assert index.storage_context is ctx
    assert len(ctx.vector_store.data.embedding_dict) == len(qa["nodes"])
