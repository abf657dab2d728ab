"""Build a QA dataset from rows of corpus, queries and judgements, checking every id.

Shared by the BEIR, Hugging Face and local-file loaders: each turns its source into
iterables of dict rows and hands them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset


def corpus_text(
    row: Mapping[str, Any], text_field: str = "text", title_field: str = "title"
) -> str:
    """The text recipe used for embeddings: ``(title + " " + text).strip()``."""
    title = str(row.get(title_field) or "")
    text = str(row.get(text_field) or "")
    return f"{title} {text}".strip()


def _id_of(row: Mapping[str, Any], field: str, where: str, line: int) -> str:
    if field not in row:
        raise NudgeError(f"{where} row {line} has no {field!r} field (found {sorted(row)})")
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
) -> QADataset:
    """Join BEIR-shaped rows into a :class:`QADataset`.

    Only queries with at least one positive judgement are kept (BEIR ships queries with
    no qrels in a split). Judgements with score <= 0 are dropped. Duplicate ids and
    judgements naming unknown queries or docs raise, naming the id.
    """
    corpus: dict[str, str] = {}
    for i, row in enumerate(corpus_rows):
        doc = _id_of(row, id_field, f"{source} corpus", i)
        if doc in corpus:
            raise DuplicateIdError(f"{source} corpus has doc id {doc!r} twice (row {i})")
        corpus[doc] = corpus_text(row, text_field, title_field)
    all_queries: dict[str, str] = {}
    for i, row in enumerate(query_rows):
        qid = _id_of(row, id_field, f"{source} queries", i)
        if qid in all_queries:
            raise DuplicateIdError(f"{source} queries have query id {qid!r} twice (row {i})")
        all_queries[qid] = str(row.get(text_field) or "")
    grades: dict[str, dict[str, float]] = {}
    for i, row in enumerate(qrel_rows):
        qid = _id_of(row, query_id_field, f"{source} qrels", i)
        doc = _id_of(row, doc_id_field, f"{source} qrels", i)
        try:
            score = float(row.get(score_field, 1))
        except (TypeError, ValueError):
            raise NudgeError(
                f"{source} qrels row {i}: score {row.get(score_field)!r} is not a number "
                "(BEIR qrels: query-id<TAB>corpus-id<TAB>score, score an integer grade)"
            ) from None
        if qid not in all_queries:
            raise UnknownIdError(f"{source} qrels row {i} names query {qid!r}, not in the queries")
        if doc not in corpus:
            raise UnknownIdError(f"{source} qrels row {i} names doc {doc!r}, not in the corpus")
        if score > 0:
            prev = grades.setdefault(qid, {}).get(doc)
            grades[qid][doc] = score if prev is None else max(prev, score)
    order = [q for q in all_queries if q in grades]
    return QADataset(
        queries={q: all_queries[q] for q in order},
        corpus=corpus,
        relevant_docs={q: list(grades[q]) for q in order},
        relevance_scores={q: grades[q] for q in order},
    )
