"""Engine retrievers with filters, doc_ids and node_ids; from_defaults; the QA dataset type."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.indices.vector_store.retrievers import VectorIndexRetriever
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from nudge_integrations.core.errors import NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index import (
    EmbeddingQAFinetuneDataset,
    NudgeFinetuneEngine,
    NudgeRetriever,
)

from .conftest import HashEmbedding

Meta = Mapping[str, Any]


def _nodes(qa: dict[str, Any]) -> list[BaseNode]:
    """The corpus with richer metadata: a number, a tag list, a title on two nodes in three,
    and a source document per topic."""
    out: list[BaseNode] = []
    for n, node in enumerate(qa["nodes"]):
        topic = node.metadata["topic"]
        meta: dict[str, Any] = {
            "topic": topic,
            "n": n,
            "tags": [topic[0], "even" if n % 2 == 0 else "odd"],
        }
        if n % 3:
            meta["title"] = f"Section {topic.title()}"
        out.append(
            TextNode(
                id_=node.node_id,
                text=node.get_content(),
                metadata=meta,
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{topic}")},
            )
        )
    return out


@pytest.fixture(scope="module")
def eng(qa: dict[str, Any]) -> NudgeFinetuneEngine:
    engine = NudgeFinetuneEngine(
        qa["train"], HashEmbedding(), corpus=_nodes(qa), val_dataset=qa["val"]
    )
    engine.finetune()
    return engine


@pytest.fixture(scope="module")
def query(qa: dict[str, Any]) -> str:
    test = qa["test"]
    return str(test.queries[test.query_ids[0]])


def expected(
    eng: NudgeFinetuneEngine, query: str, keep: Callable[[BaseNode], bool], k: int
) -> list[str]:
    """Brute force: score every node, drop those ``keep`` rejects, take the top k."""
    scores = eng.finetuned_matrix() @ np.asarray(eng.embed_model.get_query_embedding(query))
    nodes = eng.nodes
    rows = sorted((i for i, node in enumerate(nodes) if keep(node)), key=lambda i: -scores[i])
    return [nodes[i].node_id for i in rows[:k]]


def on_metadata(keep: Callable[[Meta], bool]) -> Callable[[BaseNode], bool]:
    return lambda node: keep(node.metadata)


def ids(retriever: Any, query: str) -> list[str]:
    return [hit.node.node_id for hit in retriever.retrieve(query)]


def f(key: str, value: Any, op: FilterOperator) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])


OP = FilterOperator
CASES: list[tuple[str, MetadataFilters, Callable[[Meta], bool]]] = [
    ("eq", f("topic", "compound", OP.EQ), lambda m: m["topic"] == "compound"),
    ("ne", f("topic", "compound", OP.NE), lambda m: m["topic"] != "compound"),
    ("ne-missing", f("title", "Section Calls", OP.NE), lambda m: m.get("title") != "Section Calls"),
    ("gt", f("n", 60, OP.GT), lambda m: m["n"] > 60),
    ("gte", f("n", 60, OP.GTE), lambda m: m["n"] >= 60),
    ("lt", f("n", 10, OP.LT), lambda m: m["n"] < 10),
    ("lte", f("n", 10, OP.LTE), lambda m: m["n"] <= 10),
    ("in", f("topic", ["binary", "calls"], OP.IN), lambda m: m["topic"] in ("binary", "calls")),
    ("nin", f("topic", ["compound"], OP.NIN), lambda m: m["topic"] != "compound"),
    ("contains", f("tags", "even", OP.CONTAINS), lambda m: "even" in m["tags"]),
    ("text", f("title", "Comp", OP.TEXT_MATCH), lambda m: "Comp" in m.get("title", "")),
    (
        "text-insensitive",
        f("title", "COMP", OP.TEXT_MATCH_INSENSITIVE),
        lambda m: "comp" in m.get("title", "").lower(),
    ),
    ("any", f("tags", ["b", "c"], OP.ANY), lambda m: m["tags"][0] in ("b", "c")),
    ("all", f("tags", ["c", "odd"], OP.ALL), lambda m: m["tags"] == ["c", "odd"]),
    ("is-empty", f("title", None, OP.IS_EMPTY), lambda m: "title" not in m),
]


@pytest.mark.parametrize(("filters", "keep"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_operator_filters_before_the_top_k(
    eng: NudgeFinetuneEngine,
    query: str,
    filters: MetadataFilters,
    keep: Callable[[Meta], bool],
) -> None:
    want = expected(eng, query, lambda node: keep(node.metadata), 5)
    assert want  # every case matches something in this corpus
    got = ids(eng.as_retriever(similarity_top_k=5, filters=filters), query)
    assert got == want
    assert len(got) == min(5, sum(keep(n.metadata) for n in eng.nodes))


@pytest.mark.parametrize(("filters", "keep"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_filters_agree_with_llama_index_simple_vector_store(
    eng: NudgeFinetuneEngine,
    query: str,
    filters: MetadataFilters,
    keep: Callable[[Meta], bool],
) -> None:
    index = eng.as_index()  # NUDGE-N: unit vectors, so the store's cosine ranks like dot
    theirs = VectorIndexRetriever(index, similarity_top_k=7, filters=filters)
    assert ids(eng.as_retriever(7, filters=filters), query) == ids(theirs, query)


def test_and_or_not_and_nested_conditions(eng: NudgeFinetuneEngine, query: str) -> None:
    compound = MetadataFilter(key="topic", value="compound")
    late = MetadataFilter(key="n", value=40, operator=OP.GTE)
    even = MetadataFilter(key="tags", value="even", operator=OP.CONTAINS)
    cases: list[tuple[MetadataFilters, Callable[[Meta], bool]]] = [
        (
            MetadataFilters(filters=[compound, late]),  # AND is the default
            lambda m: m["topic"] == "compound" and m["n"] >= 40,
        ),
        (
            MetadataFilters(filters=[compound, late], condition=FilterCondition.OR),
            lambda m: m["topic"] == "compound" or m["n"] >= 40,
        ),
        (
            MetadataFilters(filters=[compound, late], condition=FilterCondition.NOT),
            lambda m: not (m["topic"] == "compound" or m["n"] >= 40),
        ),
        (
            MetadataFilters(
                filters=[
                    even,
                    MetadataFilters(filters=[compound, late], condition=FilterCondition.OR),
                ],
                condition=FilterCondition.AND,
            ),
            lambda m: "even" in m["tags"] and (m["topic"] == "compound" or m["n"] >= 40),
        ),
    ]
    for filters, keep in cases:
        want = expected(eng, query, on_metadata(keep), 6)
        assert len(want) == 6
        assert ids(eng.as_retriever(similarity_top_k=6, filters=filters), query) == want


def test_doc_ids_and_node_ids_restrict_before_the_top_k(
    eng: NudgeFinetuneEngine, query: str
) -> None:
    docs = ["doc-compound", "doc-calls"]
    want = expected(eng, query, lambda node: node.ref_doc_id in docs, 8)
    assert ids(eng.as_retriever(similarity_top_k=8, doc_ids=docs), query) == want
    some = eng.node_ids[::3]
    want = expected(eng, query, lambda node: node.node_id in some, 8)
    assert ids(eng.as_retriever(similarity_top_k=8, node_ids=some), query) == want
    # all three together intersect
    both = eng.as_retriever(
        similarity_top_k=50,
        doc_ids=docs,
        node_ids=some,
        filters=f("tags", "even", OP.CONTAINS),
    )
    want = expected(
        eng,
        query,
        lambda node: (
            node.ref_doc_id in docs and node.node_id in some and "even" in node.metadata["tags"]
        ),
        50,
    )
    assert 0 < len(want) < 50 and ids(both, query) == want
    assert both.doc_ids == docs and both.node_ids == some


def test_fewer_matches_than_k_and_none_at_all(eng: NudgeFinetuneEngine, query: str) -> None:
    assert ids(eng.as_retriever(10, filters=f("topic", "assert", OP.EQ)), query) == ["assert-0"]
    assert eng.as_retriever(10, filters=f("topic", "nowhere", OP.EQ)).retrieve(query) == []
    assert eng.as_retriever(10, doc_ids=["doc-nowhere"]).retrieve(query) == []
    # an unfiltered retriever still returns the plain top-k
    assert ids(eng.as_retriever(4), query) == expected(eng, query, lambda node: True, 4)


async def test_async_retrieve_filters_too(eng: NudgeFinetuneEngine, query: str) -> None:
    filters = f("topic", ["binary", "calls"], OP.IN)
    retriever = eng.as_retriever(similarity_top_k=3, filters=filters)
    hits = await retriever.aretrieve(query)
    assert [h.node.node_id for h in hits] == ids(retriever, query)
    assert all(h.node.metadata["topic"] in ("binary", "calls") for h in hits)


def test_bad_filter_arguments_are_named(eng: NudgeFinetuneEngine) -> None:
    regex = MetadataFilter.model_construct(key="topic", value="c.*", operator="regex")
    with pytest.raises(NudgeError, match=r"operator 'regex' \(key 'topic'\) is not supported"):
        eng.as_retriever(filters=MetadataFilters(filters=[regex]))
    nested = MetadataFilters(filters=[MetadataFilters(filters=[regex])])
    with pytest.raises(NudgeError, match="not supported"):
        eng.as_retriever(filters=nested)
    with pytest.raises(NudgeError, match="MetadataFilters"):
        eng.as_retriever(filters={"topic": "compound"})  # type: ignore[arg-type]
    with pytest.raises(NudgeError, match="needs a list value"):
        eng.as_retriever(filters=f("topic", "compound", OP.IN))
    with pytest.raises(NudgeError, match="needs a string value"):
        eng.as_retriever(filters=f("n", 3, OP.TEXT_MATCH))
    with pytest.raises(NudgeError, match=r"wrap one id as \[id\]"):
        eng.as_retriever(doc_ids="doc-calls")
    with pytest.raises(UnknownIdError, match="'no-such-node'"):
        eng.as_retriever(node_ids=[eng.node_ids[0], "no-such-node"])


def test_a_single_metadata_filter_and_mismatched_types(
    eng: NudgeFinetuneEngine, query: str
) -> None:
    one = eng.as_retriever(5, filters=MetadataFilter(key="topic", value="calls"))
    assert isinstance(one, NudgeRetriever) and one.filters is not None
    assert {h.node.metadata["topic"] for h in one.retrieve(query)} == {"calls"}
    # comparing a number field with a string matches nothing instead of raising
    assert eng.as_retriever(5, filters=f("n", "10", OP.GT)).retrieve(query) == []


# ---------------------------------------------------------------- from_defaults
def test_from_defaults_builds_the_same_engine(qa: dict[str, Any]) -> None:
    nodes = _nodes(qa)
    built = NudgeFinetuneEngine.from_defaults(
        train_dataset=qa["train"], embed_model=HashEmbedding(), nodes=nodes, val_dataset=qa["val"]
    )
    plain = NudgeFinetuneEngine(qa["train"], HashEmbedding(), corpus=nodes, val_dataset=qa["val"])
    built.finetune()
    plain.finetune()
    assert built.variant == "N" and built.fit_params == plain.fit_params
    assert built.node_ids == plain.node_ids and built.gamma_ == plain.gamma_
    np.testing.assert_array_equal(built.finetuned_matrix(), plain.finetuned_matrix())


def test_from_defaults_takes_an_index_or_the_dataset_corpus(qa: dict[str, Any]) -> None:
    embed = HashEmbedding()
    index = VectorStoreIndex(qa["nodes"], embed_model=embed)
    calls = embed.text_calls
    eng = NudgeFinetuneEngine.from_defaults(qa["train"], embed, index=index, variant="M", gamma=0.5)
    assert embed.text_calls == calls  # the index's vectors are reused
    assert eng.variant == "M" and eng.fit_params["gamma"] == 0.5
    own = NudgeFinetuneEngine.from_defaults(qa["train"], embed)
    assert set(own.node_ids) == set(qa["train"].corpus)


def test_from_defaults_refuses_two_corpora_or_no_training_data(qa: dict[str, Any]) -> None:
    with pytest.raises(NudgeError, match="pass only one of corpus, nodes, docstore or index"):
        NudgeFinetuneEngine.from_defaults(
            qa["train"], HashEmbedding(), corpus=qa["nodes"], nodes=qa["nodes"]
        )
    with pytest.raises(NudgeError, match="needs train_dataset"):
        NudgeFinetuneEngine.from_defaults(embed_model=HashEmbedding(), nodes=qa["nodes"])


# ---------------------------------------------------------------- EmbeddingQAFinetuneDataset
def test_embedding_qa_dataset_reads_old_llama_index_files(
    tmp_path: Path, qa: dict[str, Any]
) -> None:
    old = {  # json.dump(dataset.model_dump(), indent=4), as LlamaIndex wrote it
        "queries": {"q1": "What is an assert statement?", "q2": "How are calls made?"},
        "corpus": {"assert-0": "Assert statements ...", "calls-0": "A call calls ..."},
        "relevant_docs": {"q1": ["assert-0"], "q2": ["calls-0"]},
        "mode": "text",
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(old, indent=4))
    ds = EmbeddingQAFinetuneDataset.from_json(str(path))
    assert isinstance(ds, EmbeddingQAFinetuneDataset) and isinstance(ds, QADataset)
    assert (ds.queries, ds.corpus, ds.relevant_docs, ds.mode) == (
        old["queries"],
        old["corpus"],
        old["relevant_docs"],
        "text",
    )
    assert ds.query_docid_pairs == [
        ("What is an assert statement?", ["assert-0"]),
        ("How are calls made?", ["calls-0"]),
    ]
    ds.save_json(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == old
    # built with keywords, as before, and accepted by the engine
    made = EmbeddingQAFinetuneDataset(
        queries=qa["train"].queries,
        corpus=qa["train"].corpus,
        relevant_docs=qa["train"].relevant_docs,
    )
    assert EmbeddingQAFinetuneDataset.from_qa(qa["train"]) == made
    eng = NudgeFinetuneEngine(made, HashEmbedding())
    eng.finetune()
    assert eng.result_ is not None
