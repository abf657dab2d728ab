"""Query splits (generic and the NUDGE paper's) and inverse-cloze pseudo-queries."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data import QADataset, paper_split, split_dataset
from nudge_integrations.data.pseudo_queries import inverse_cloze, split_sentences


def synthetic(n: int, n_docs: int = 50, shuffle_seed: int | None = None) -> QADataset:
    """``n`` queries ``q0000``... over ``n_docs`` docs, in insertion order or shuffled."""
    order = list(range(n))
    if shuffle_seed is not None:
        np.random.default_rng(shuffle_seed).shuffle(order)
    qids = [f"q{i:04d}" for i in order]
    return QADataset(
        queries={q: f"question {q}" for q in qids},
        corpus={f"d{j}": f"doc {j}" for j in range(n_docs)},
        relevant_docs={q: [f"d{int(q[1:]) % n_docs}"] for q in qids},
        relevance_scores={q: {f"d{int(q[1:]) % n_docs}": 2.0} for q in qids[:3]},
    )


def assert_partition(parts: dict[str, QADataset], ds: QADataset) -> None:
    seen: list[str] = []
    for part in parts.values():
        seen.extend(part.query_ids)
        assert part.corpus == ds.corpus
        for q in part.query_ids:
            assert part.queries[q] == ds.queries[q]
            assert part.grades(q) == ds.grades(q)
    assert len(seen) == len(set(seen)), "parts overlap"
    assert set(seen) == set(ds.query_ids)


# ------------------------------------------------------------------ split_dataset
@pytest.mark.parametrize(
    ("n", "fractions", "sizes"),
    [
        (23, (0.7, 0.1, 0.2), [17, 2, 4]),  # floor(2.3)=2, floor(4.6)=4, rest to train
        (1109, (0.7, 0.1, 0.2), [778, 110, 221]),
        (7, (0.5, 0.5), [4, 3]),
        (10, (0.34, 0.33, 0.33), [4, 3, 3]),
    ],
)
def test_split_sizes(n: int, fractions: tuple[float, ...], sizes: list[int]) -> None:
    ds = synthetic(n)
    names = ("train", "val", "test")[: len(fractions)]
    parts = split_dataset(ds, fractions, names=names)
    assert list(parts) == list(names)
    assert [len(p) for p in parts.values()] == sizes
    assert_partition(parts, ds)


def test_split_follows_random_state_permutation() -> None:
    ds = synthetic(40)
    parts = split_dataset(ds, seed=3)
    perm = np.random.RandomState(3).permutation(40)
    order = [ds.query_ids[i] for i in perm]
    assert [len(p) for p in parts.values()] == [28, 4, 8]
    assert parts["train"].query_ids == order[:28]
    assert parts["val"].query_ids == order[28:32]
    assert parts["test"].query_ids == order[32:]


def test_split_deterministic_per_seed() -> None:
    ds = synthetic(60)
    a = split_dataset(ds, seed=0)
    b = split_dataset(ds, seed=0)
    c = split_dataset(ds, seed=1)
    for name in ("train", "val", "test"):
        assert a[name].query_ids == b[name].query_ids
    assert a["test"].query_ids != c["test"].query_ids
    assert set(a["train"].query_ids) != set(c["train"].query_ids)


def test_split_cap() -> None:
    ds = synthetic(100)
    parts = split_dataset(ds, cap=5)
    assert [len(p) for p in parts.values()] == [90, 5, 5]
    assert_partition(parts, ds)
    uncapped = split_dataset(ds, cap=None)
    assert [len(p) for p in uncapped.values()] == [70, 10, 20]


@pytest.mark.parametrize(
    ("fractions", "names", "match"),
    [
        ((0.7, 0.2, 0.2), ("train", "val", "test"), "sum to 1"),
        ((0.6, 0.2), ("train", "val", "test"), "one fraction per split name"),
        ((1.0,), ("train",), "at least two splits"),
        ((1.2, -0.1, -0.1), ("train", "val", "test"), ">= 0"),
    ],
)
def test_split_bad_fractions(
    fractions: tuple[float, ...], names: tuple[str, ...], match: str
) -> None:
    with pytest.raises(NudgeError, match=match):
        split_dataset(synthetic(20), fractions, names=names)


def test_split_empty_part_raises() -> None:
    with pytest.raises(NudgeError, match="split 'val' would be empty with 5 queries"):
        split_dataset(synthetic(5))


# ------------------------------------------------------------------ paper_split
def test_paper_split_scifact_sizes() -> None:
    ds = synthetic(1109)
    parts = paper_split(ds)
    assert list(parts) == ["train", "val", "test"]
    assert [len(parts[k]) for k in ("train", "val", "test")] == [778, 110, 221]
    assert_partition(parts, ds)


def test_paper_split_layout_and_determinism() -> None:
    ds = synthetic(1109)
    a = paper_split(ds)
    b = paper_split(ds)
    assert all(a[k].query_ids == b[k].query_ids for k in a)

    # documented layout: sorted ids, RandomState(0) permutation, val | test | train
    qids = sorted(ds.query_ids)
    shuffled = [qids[i] for i in np.random.RandomState(0).permutation(len(qids))]
    assert a["val"].query_ids == shuffled[:110]
    assert a["test"].query_ids == shuffled[110:331]
    assert a["train"].query_ids == shuffled[331:]

    # insertion order does not matter: ids are sorted first
    c = paper_split(synthetic(1109, shuffle_seed=7))
    assert all(a[k].query_ids == c[k].query_ids for k in a)

    other = paper_split(ds, seed=1)
    assert other["test"].query_ids != a["test"].query_ids


def test_paper_split_cap() -> None:
    parts = paper_split(synthetic(1109), cap=50)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [1009, 50, 50]


def test_paper_split_minimum() -> None:
    parts = paper_split(synthetic(10))
    assert [len(parts[k]) for k in ("train", "val", "test")] == [7, 1, 2]
    with pytest.raises(NudgeError, match="at least 10 queries, got 9"):
        paper_split(synthetic(9))
    with pytest.raises(NudgeError, match="got 3"):
        paper_split(synthetic(3))


# ------------------------------------------------------------------ inverse cloze
DOCS = {
    "a": (
        "The quick brown fox jumps over the lazy dog. "
        "A second sentence has enough words in it too. "
        "Short one. "
        "Finally the last sentence also carries plenty of words."
    ),
    "b": "Only one sentence here is long enough to be cut.",
    "c": "Tiny. Also tiny.",
    "d": "Alpha beta gamma delta epsilon zeta. Eta theta iota kappa lambda mu.",
}
QID = re.compile(r"^(?P<doc>.+)#(?P<n>\d+)$")


def test_split_sentences() -> None:
    assert split_sentences("One two.  Three four!\nFive? six. 7 eight.") == [
        "One two.",
        "Three four!",
        "Five? six.",
        "7 eight.",
    ]


def test_inverse_cloze_remove() -> None:
    ds = inverse_cloze(DOCS, per_doc=2, min_words=6, remove=True)
    assert set(ds.corpus) == set(DOCS)  # docs without queries stay in the corpus
    by_doc: dict[str, list[str]] = {}
    for qid, text in ds.queries.items():
        m = QID.match(qid)
        assert m, qid
        doc = m["doc"]
        by_doc.setdefault(doc, []).append(qid)
        assert ds.relevant_docs[qid] == [doc]
        assert text in split_sentences(DOCS[doc])  # a real sentence of its passage
        assert len(text.split()) >= 6
        assert text not in ds.corpus[doc]  # ... and cut out of it
    # "a" has 3 eligible sentences -> 2; "b" would be left empty -> none; "c" too short
    assert sorted(by_doc) == ["a", "d"]
    assert sorted(by_doc["a"]) == ["a#0", "a#1"]
    assert by_doc["d"] == ["d#0"]  # two eligible sentences, but one must remain
    for doc, qids in by_doc.items():
        kept = [s for s in split_sentences(DOCS[doc]) if s not in {ds.queries[q] for q in qids}]
        assert ds.corpus[doc] == " ".join(kept)
    assert ds.corpus["b"] == DOCS["b"]
    assert ds.corpus["c"] == DOCS["c"]


def test_inverse_cloze_keep() -> None:
    ds = inverse_cloze(DOCS, per_doc=5, min_words=6, remove=False)
    assert ds.corpus == DOCS
    for qid, text in ds.queries.items():
        doc = qid.split("#")[0]
        assert text in ds.corpus[doc]
        assert ds.relevant_docs[qid] == [doc]
    assert sorted(ds.query_ids) == ["a#0", "a#1", "a#2", "b#0", "d#0", "d#1"]
    # sentences keep passage order within a doc
    sents = split_sentences(DOCS["a"])
    assert [ds.queries[f"a#{n}"] for n in range(3)] == [sents[0], sents[1], sents[3]]


def test_inverse_cloze_per_doc_and_seed() -> None:
    one = inverse_cloze(DOCS, per_doc=1, min_words=6)
    assert sorted(one.query_ids) == ["a#0", "d#0"]
    assert inverse_cloze(DOCS, seed=4).queries == inverse_cloze(DOCS, seed=4).queries
    picks = {inverse_cloze(DOCS, per_doc=1, seed=s).queries["a#0"] for s in range(20)}
    assert len(picks) > 1  # the seed changes which sentence is cut
    with pytest.raises(NudgeError, match="per_doc must be at least 1"):
        inverse_cloze(DOCS, per_doc=0)


def test_inverse_cloze_nothing_long_enough() -> None:
    with pytest.raises(NudgeError, match="no passage has a sentence of 50\\+ words"):
        inverse_cloze(DOCS, min_words=50)
    with pytest.raises(NudgeError, match="no passage"):
        inverse_cloze({"x": "Tiny. Also tiny."})
