"""Build a QA dataset from rows of corpus, queries and judgements, checking every id.

Shared by the BEIR, Hugging Face and local-file loaders: each turns its source into
iterables of dict rows and hands them here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset


@dataclass(frozen=True)
class RowSource:
    """Where a kind of rows comes from, for messages: ``name`` (a file, or ``hf qrels``)
    and ``place(i)``, where row ``i`` (0-based, in the order read) lies (``path:line``)."""

    name: str
    place: Callable[[int], str]


def _unnamed(source: str, kind: str) -> RowSource:
    return RowSource(f"{source} {kind}", lambda i: f"{source} {kind} row {i}")


def corpus_text(
    row: Mapping[str, Any], text_field: str = "text", title_field: str = "title"
) -> str:
    """The text recipe used for embeddings: ``(title + " " + text).strip()``."""
    title = str(row.get(title_field) or "")
    text = str(row.get(text_field) or "")
    return f"{title} {text}".strip()


def _id_of(row: Mapping[str, Any], field: str, where: str) -> str:
    if field not in row:
        raise NudgeError(f"{where} has no {field!r} field (found {sorted(row)})")
    return str(row[field])


def dataset_from_rows(
    corpus_rows: Iterable[Mapping[str, Any]],
    query_rows: Iterable[Mapping[str, Any]],
    qrel_rows: Iterable[Mapping[str, Any]],
    *,
    id_field: str = "_id",
    text_field: str = "text",
    title_field: str = "title",
    query_id_field: str = "query-id",
    doc_id_field: str = "corpus-id",
    score_field: str = "score",
    source: str = "dataset",
    sources: Mapping[str, RowSource] | None = None,
) -> QADataset:
    """Join BEIR-shaped rows into a :class:`QADataset`.

    Only queries with at least one positive judgement are kept (BEIR ships queries with
    no qrels in a split). Judgements with score <= 0 are dropped; qrels with no
    judgement, or none positive, raise. Duplicate ids and judgements naming unknown
    queries or docs raise, naming the id and where its row lies: ``sources`` (by kind,
    ``"corpus"``, ``"queries"``, ``"qrels"``) says where for rows read from files
    (``path:line``), else ``<source> <kind> row <i>``."""
    given = dict(sources or {})
    corpus_src, query_src, qrels_src = (
        given.get(kind) or _unnamed(source, kind) for kind in ("corpus", "queries", "qrels")
    )
    corpus: dict[str, str] = {}
    for i, row in enumerate(corpus_rows):
        doc = _id_of(row, id_field, corpus_src.place(i))
        if doc in corpus:
            raise DuplicateIdError(f"{corpus_src.place(i)}: doc id {doc!r} twice in the corpus")
        corpus[doc] = corpus_text(row, text_field, title_field)
    all_queries: dict[str, str] = {}
    for i, row in enumerate(query_rows):
        qid = _id_of(row, id_field, query_src.place(i))
        if qid in all_queries:
            raise DuplicateIdError(f"{query_src.place(i)}: query id {qid!r} twice in the queries")
        all_queries[qid] = str(row.get(text_field) or "")
    grades: dict[str, dict[str, float]] = {}
    n_rows = 0
    for i, row in enumerate(qrel_rows):
        n_rows += 1
        qid = _id_of(row, query_id_field, qrels_src.place(i))
        doc = _id_of(row, doc_id_field, qrels_src.place(i))
        try:
            score = float(row.get(score_field, 1))
        except (TypeError, ValueError):
            raise NudgeError(
                f"{qrels_src.place(i)}: score {row.get(score_field)!r} is not a number "
                "(BEIR qrels: query-id<TAB>corpus-id<TAB>score, score an integer grade)"
            ) from None
        if qid not in all_queries:
            raise UnknownIdError(f"{qrels_src.place(i)} names query {qid!r}, not in the queries")
        if doc not in corpus:
            raise UnknownIdError(f"{qrels_src.place(i)} names doc {doc!r}, not in the corpus")
        if score > 0:
            prev = grades.setdefault(qid, {}).get(doc)
            grades[qid][doc] = score if prev is None else max(prev, score)
    if n_rows == 0:
        raise NudgeError(
            f"no judgements in {qrels_src.name}: it holds no rows (BEIR qrels: a header, then "
            "query-id<TAB>corpus-id<TAB>score, one judgement a line)"
        )
    if not grades:
        raise NudgeError(
            f"no positive judgements in {qrels_src.name}: its {n_rows} rows all have score "
            "<= 0, and only a positive score marks a relevant document"
        )
    order = [q for q in all_queries if q in grades]
    return QADataset(
        queries={q: all_queries[q] for q in order},
        corpus=corpus,
        relevant_docs={q: list(grades[q]) for q in order},
        relevance_scores={q: grades[q] for q in order},
    )
