"""LangChain's ``LanceDB`` store (a local folder): fit from its vectors (no re-embedding),
swap in, search through its own ``similarity_search``, reopen in a new process, revert bit
for bit; NUDGE-M only where its vector index ranks by dot."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from nudge_integrations.core.errors import MetricMismatchError
from nudge_integrations.langchain import NudgeFitter

from ..hashing import hash_embed
from ..optional import need
from .conftest import HashEmbeddings
from .stored import documents, writer_of

need("lancedb")

ROOT = Path(__file__).resolve().parents[2]
_names = itertools.count()


@pytest.fixture
def make(qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path) -> Callable[..., Any]:
    """``make(index=None, **kw)``: a LanceDB store of the corpus; ``index`` ("dot",
    "cosine") gives its vector column an index of that metric, which its searches use."""

    def build(index: str | None = None, **kw: Any) -> Any:
        from lancedb.index import IvfFlat
        from langchain_community.vectorstores import LanceDB

        store = LanceDB(
            uri=str(tmp_path / "lance"), embedding=embeddings, table_name=f"t{next(_names)}", **kw
        )
        store.add_documents(qa["docs"])
        if index:
            config = IvfFlat(distance_type=index, num_partitions=2)  # type: ignore[arg-type]
            store.get_table().create_index("vector", config=config)
        return store

    return build


def vectors(store: Any) -> dict[str, np.ndarray]:
    writer = writer_of(store)
    return writer.read(writer.all_ids())


def agreement(store: Any, fitter: NudgeFitter, docs: list[Document], pairs: Any) -> float:
    """How often the store's own top-1 is the exact nudged ranking's (its hits carry no
    id, so they are matched by text)."""
    by_text = {d.page_content: d.id for d in docs}
    retriever = fitter.as_retriever(k=1)
    questions = [q for q, _ in pairs("test")]
    same = [
        by_text[store.similarity_search(q, k=1)[0].page_content] == retriever.invoke(q)[0].id
        for q in questions
    ]
    return sum(same) / len(same)


def in_new_process(store: Any, out: Path) -> dict[str, Any]:
    """Open the store in a new process: its ledger's status and its vectors (to ``out``)."""
    code = """
import json, sys
import numpy as np
from langchain_community.vectorstores import LanceDB
from langchain_core.embeddings import FakeEmbeddings
from nudge_integrations.langchain import status
from nudge_integrations.stores import registry
uri, name, out = sys.argv[1:]
store = LanceDB(uri=uri, embedding=FakeEmbeddings(size=64), table_name=name)
st = status(store)
writer = registry.bind(store, "langchain").writer
vectors = writer.read(writer.all_ids())
np.savez(out, ids=np.asarray(list(vectors)), vectors=np.stack(list(vectors.values())))
print(json.dumps({"state": st.state, "nudged": len(st.nudged)}))
"""
    where = [str(store._connection.uri), str(store._table_name), str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", code, *where], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    got = np.load(out)
    seen["vectors"] = {str(i): v for i, v in zip(got["ids"], got["vectors"], strict=True)}
    return seen


def check_swap_and_revert(store: Any, fitter: NudgeFitter, qa: dict[str, Any]) -> None:
    base = vectors(store)
    assert set(base) == set(fitter.ids_)
    before = agreement(store, fitter, qa["docs"], qa["pairs"])
    written = fitter.swap_in(store)
    assert written and sorted(written) == sorted(str(i) for i in fitter.result_.moved_ids)
    nudged = dict(zip(fitter.ids_, fitter.nudged_matrix(), strict=True))
    after = vectors(store)
    for i, vec in after.items():
        np.testing.assert_array_equal(vec, nudged[i] if i in set(written) else base[i])
    served = agreement(store, fitter, qa["docs"], qa["pairs"])
    assert served >= 0.95 and served > before
    assert sorted(fitter.revert(store)) == sorted(written)
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, base[i])


@pytest.mark.slow
def test_fit_swap_search_reopen_revert(
    make: Callable[..., Any], qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    store = make()
    assert writer_of(store).similarity == "l2"  # no index: LanceDB's default
    calls = embeddings.document_calls
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    assert embeddings.document_calls == calls  # the store's vectors were reused
    loaded = documents(store)
    assert {d.id: (d.page_content, d.metadata) for d in loaded} == {
        d.id: (d.page_content, d.metadata) for d in qa["docs"]
    }
    text = {d.id: d.page_content for d in qa["docs"]}
    for i, row in zip(fitter.ids_, fitter.base_vectors_, strict=True):
        np.testing.assert_allclose(row, hash_embed(text[i]), atol=1e-6)
    base = vectors(store)
    written = fitter.swap_in(store)
    seen = in_new_process(store, tmp_path / "seen.npz")
    assert seen["state"] == "nudged" and seen["nudged"] == len(written)
    nudged = {str(k): v for k, v in fitter.nudged_vectors().items()}
    for i, vec in seen["vectors"].items():
        np.testing.assert_array_equal(vec, nudged[i] if i in set(written) else base[i])
    assert agreement(store, fitter, qa["docs"], qa["pairs"]) >= 0.95
    fitter.revert(store)
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, base[i])


def test_nudge_m_goes_into_a_table_with_a_dot_index(
    make: Callable[..., Any], qa: dict[str, Any], embeddings: HashEmbeddings
) -> None:
    store = make(index="dot")
    assert writer_of(store).similarity == "dot"
    fitter = NudgeFitter(embeddings, variant="M").fit(
        store, qa["pairs"]("train"), val=qa["pairs"]("val")
    )
    check_swap_and_revert(store, fitter, qa)


@pytest.mark.parametrize(
    "index,kw,metric",
    [(None, {}, "l2"), ("cosine", {}, "cosine"), (None, {"distance": "ip"}, "l2")],
)
def test_nudge_m_refused_unless_the_index_ranks_by_dot(
    index: str | None,
    kw: dict[str, Any],
    metric: str,
    make: Callable[..., Any],
    qa: dict[str, Any],
    embeddings: HashEmbeddings,
) -> None:
    # distance= only changes LangChain's relevance scores: searches still rank by l2
    store = make(index=index, **kw)
    assert writer_of(store).similarity == metric
    before = vectors(store)
    fitter = NudgeFitter(embeddings, variant="M").fit(store, qa["pairs"]("train"))
    with pytest.raises(MetricMismatchError, match=f"LanceDB ranks by {metric}"):
        fitter.swap_in(store)
    for i, vec in vectors(store).items():
        np.testing.assert_array_equal(vec, before[i])
