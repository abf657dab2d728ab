"""The nudge ledger through LangChain: refits never compound, changed text is never
overwritten, a lost ledger is refused, and fitters save and load without pickle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.langchain import NudgeFitter, revert, status
from nudge_integrations.stores import LedgerError, clear_markers

from ..hashing import hash_embed
from ..optional import need
from .conftest import HashEmbeddings
from .stored import writer_of

ROOT = Path(__file__).resolve().parents[2]


def store_of(qa: dict[str, Any], embeddings: HashEmbeddings) -> InMemoryVectorStore:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(
        [
            Document(id=d.id, page_content=d.page_content, metadata=dict(d.metadata))
            for d in qa["docs"]
        ]
    )
    return store


def vectors(store: InMemoryVectorStore) -> dict[str, np.ndarray]:
    return {i: np.asarray(r["vector"], np.float32) for i, r in store.store.items()}


def test_a_second_fit_on_a_nudged_store_starts_from_the_base(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = store_of(qa, embeddings)
    original = vectors(store)
    train, val = qa["pairs"]("train"), qa["pairs"]("val")
    NudgeFitter(embeddings).fit(store, train, val=val).swap_in(store)  # the sequence
    assert status(store).state == "nudged"
    f = NudgeFitter(embeddings).fit(store, train, val=val)
    assert any("read from the ledger" in n for n in f.notes_)
    for i, row in zip(f.ids_, f.base_vectors_, strict=True):
        np.testing.assert_array_equal(row, original[i])
    f.swap_in(store)
    f.revert(store)
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, original[i])
    assert f.status(store).state == "base"
    # the markers left the documents with the nudge
    assert all(MARKER_KEY not in r["metadata"] for r in store.store.values())


MARKER_KEY = "nudge_ledger"


def test_swap_and_revert_skip_documents_whose_text_changed(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = store_of(qa, embeddings)
    original = vectors(store)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    written = fitter.swap_in(store)
    doc_id = next(iter(written))
    store.add_documents([Document(id=doc_id, page_content="brand new text", metadata={})])
    with pytest.warns(UserWarning, match="text changed"):
        report = fitter.revert(store)
    assert report.changed == [doc_id] and doc_id not in report.restored
    # the new text keeps its own embedding, not the old text's base vector
    np.testing.assert_allclose(store.store[doc_id]["vector"], hash_embed("brand new text"))
    for i in report.restored:
        np.testing.assert_array_equal(vectors(store)[i], original[i])
    with pytest.warns(UserWarning, match="text changed"):
        again = fitter.swap_in(store)
    assert again.changed == [doc_id] and doc_id not in again.written


def test_a_marked_store_whose_ledger_is_gone_is_refused(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = store_of(qa, embeddings)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    fitter.swap_in(store)
    assert fitter.ledger_ is not None
    shutil.rmtree(fitter.ledger_)
    with pytest.raises(LedgerError, match=r"nudge.*ledger at .*which is missing"):
        NudgeFitter(embeddings).fit(store, qa["pairs"]("train"))
    with pytest.raises(LedgerError, match="marked as nudged"):
        revert(store)
    # a user who accepts the loss clears the markers, re-embeds the records, fits again
    assert clear_markers(writer_of(store)) > 0
    store.add_documents(qa["docs"])
    NudgeFitter(embeddings).fit(store, qa["pairs"]("train"))


@pytest.mark.slow
def test_fitter_saves_and_loads_without_pickle(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    store = store_of(qa, embeddings)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    fitter.swap_in(store)
    folder = fitter.save(tmp_path / "fit")
    assert not list(folder.glob("*.pkl")) and (folder / "nudge_fitter.json").is_file()
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 2_000_000
    loaded = NudgeFitter.load(folder, embeddings)
    assert loaded.gamma_ == fitter.gamma_ and loaded.ids_ == fitter.ids_
    np.testing.assert_array_equal(loaded.nudged_matrix(), fitter.nudged_matrix())
    assert loaded.ledger_ == fitter.ledger_
    q = qa["pairs"]("test")[0][0]
    assert [d.id for d in loaded.as_retriever(k=5).invoke(q)] == [
        d.id for d in fitter.as_retriever(k=5).invoke(q)
    ]
    assert len(repr(loaded)) < 200 and "gamma" in repr(loaded)
    assert len(repr(loaded.as_retriever())) < 500

    class Other(HashEmbeddings):
        model_name = "another-model"

    with pytest.raises(Exception, match="made with embedding model"):
        NudgeFitter.load(folder, Other())
    # a new process loads it and reverts the store it swapped into, from the ledger
    store.dump(str(tmp_path / "store.json"))
    script = f"""
import numpy as np
from langchain_core.vectorstores import InMemoryVectorStore
from tests.hashing import hash_embed
from langchain_core.embeddings import Embeddings
class E(Embeddings):
    def embed_documents(self, t): return [hash_embed(x).tolist() for x in t]
    def embed_query(self, t): return hash_embed(t).tolist()
E.__name__ = "HashEmbeddings"
from nudge_integrations.langchain import NudgeFitter
store = InMemoryVectorStore.load({str(tmp_path / "store.json")!r}, E())
fitter = NudgeFitter.load({str(folder)!r}, E())
print(fitter.status(store).state)
fitter.revert(store)
print(fitter.status(store).state)
bad = [i for i, r in store.store.items()
       if not np.array_equal(np.asarray(r["vector"], np.float32), hash_embed(r["text"]))]
print(len(bad))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["nudged", "base", "0"]


def chroma(tmp_path: Path, embeddings: HashEmbeddings, docs: list[Document], space: str) -> Any:
    chromadb = need("chromadb")
    mod = need("langchain_chroma")
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    store = mod.Chroma(
        "docs",
        embedding_function=embeddings,
        client=client,
        collection_metadata={"hnsw:space": space},
    )
    store.add_documents(docs)
    return store


def test_a_wrong_ledger_path_is_refused_not_taken_as_base(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    store = chroma(tmp_path, embeddings, qa["docs"], "l2")
    train, val = qa["pairs"]("train"), qa["pairs"]("val")
    NudgeFitter(embeddings).fit(store, train, val=val).swap_in(store)
    with pytest.raises(LedgerError, match="this store's ledger is at"):
        NudgeFitter(embeddings).fit(store, train, ledger=tmp_path / "typo")
    with pytest.raises(LedgerError, match="this store's ledger is at"):
        revert(store, ledger=tmp_path / "typo")
    # a fit that moves nothing is a swap like any other: the earlier nudge leaves
    report = NudgeFitter(embeddings, gamma=0.0).fit(store, train).swap_in(store)
    assert report.written == [] and report.restored
    assert status(store).state == "base"


def test_a_cosine_store_that_rounds_vectors_still_reads_as_nudged(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    store = chroma(tmp_path, embeddings, qa["docs"], "cosine")
    before = writer_of(store).read([d.id for d in qa["docs"]])
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    fitter.swap_in(store)
    assert status(store).state == "nudged"
    revert(store)
    after = writer_of(store).read([d.id for d in qa["docs"]])
    for i, vec in before.items():  # the store re-normalises: equal up to float32 rounding
        np.testing.assert_allclose(after[i], vec, rtol=0, atol=1e-6)
    assert status(store).state == "base"


def test_module_revert_warns_about_skipped_documents(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = store_of(qa, embeddings)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    doc_id = next(iter(fitter.swap_in(store)))
    store.add_documents([Document(id=doc_id, page_content="other text", metadata={})])
    with pytest.warns(UserWarning, match="1 documents whose text changed"):
        revert(store, ledger=fitter.ledger_)


def test_reapply_skips_records_that_left_and_status_follows_the_store(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    store = store_of(qa, embeddings)
    qa["train"].save_json(tmp_path / "train.json")
    fitter = NudgeFitter(embeddings).fit(
        store, str(tmp_path / "train.json"), val=qa["pairs"]("val")
    )
    written = list(fitter.swap_in(store))
    store.delete([written[0]])
    store.add_documents(
        [
            Document(id=d.id, page_content=d.page_content, metadata=dict(d.metadata))
            for d in qa["docs"]
            if d.id != written[0]
        ]
    )  # a re-index
    st = status(store)  # the re-index wrote the base vectors again
    assert st.state == "base" and st.note and "reapply" in st.note
    with pytest.warns(UserWarning, match="1 no longer in the store"):
        report = fitter.reapply(store)
    assert report.missing == [written[0]] and sorted(report.written) == sorted(written[1:])
    assert status(store).state == "nudged"
    revert(store)
    assert status(store).state == "base"  # still found after the markers left


def test_the_async_verbs_do_what_the_sync_ones_do(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    import asyncio

    store = store_of(qa, embeddings)
    original = vectors(store)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))

    async def run() -> None:
        written = await fitter.aswap_in(store, batch_size=7, show_progress=False)
        assert fitter.result_ is not None
        moved = [str(i) for i in fitter.result_.ids]
        assert sorted(written.written) == sorted(moved) and moved
        assert (await fitter.astatus(store)).state == "nudged"
        for i, row in zip(moved, fitter.result_.vectors, strict=True):
            np.testing.assert_array_equal(vectors(store)[i], row)
        again = await fitter.areapply(store)
        assert again.written == [] and sorted(again.unchanged) == sorted(moved)
        back = await fitter.arevert(store, batch_size=5)
        assert sorted(back.restored) == sorted(moved)
        assert (await fitter.astatus(store)).state == "base"

    asyncio.run(run())
    assert vectors(store).keys() == original.keys()
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, original[i])


def test_the_module_level_async_verbs_do_what_the_sync_ones_do(
    qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    """``astatus``, ``arevert``, ``afinish`` and ``arollback`` take the sync verbs'
    arguments (checked under their own names) and act on the store alike."""
    import asyncio
    import inspect

    from nudge_integrations.core.errors import NudgeError
    from nudge_integrations.langchain import afinish, arevert, arollback, astatus, finish

    assert inspect.signature(afinish) == inspect.signature(finish)
    store = store_of(qa, embeddings)
    original = vectors(store)
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    moved = sorted(fitter.swap_in(store, show_progress=False).written)
    assert moved

    async def run() -> None:
        assert (await astatus(store)).state == "nudged"
        assert (await afinish(store)).written == []  # nothing pending: a no-op
        assert (await arollback(store)).restored == []
        back = await arevert(store, batch_size=5, show_progress=False)
        assert sorted(back.restored) == moved
        assert (await astatus(store)).state == "base"
        with pytest.raises(NudgeError, match="astatus"):
            await astatus(store, batch_sise=3)  # type: ignore[call-arg]

    asyncio.run(run())
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, original[i])


def test_a_fit_from_a_store_shows_the_read_when_asked(
    qa: dict[str, Any], embeddings: HashEmbeddings, capsys: pytest.CaptureFixture[str]
) -> None:
    """``show_progress=True`` shows the store being read (the total is not known)."""
    store = store_of(qa, embeddings)
    n = len(vectors(store))
    NudgeFitter(embeddings, show_progress=True).fit(
        store, qa["pairs"]("train"), val=qa["pairs"]("val")
    )
    assert f"fit: reading the store: {n} records (" in capsys.readouterr().err
    NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    assert "reading the store" not in capsys.readouterr().err  # off by default
