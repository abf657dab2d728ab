"""QA pairs in the shapes users have them -> a :class:`QADataset` over a known corpus.

Accepted: a ``QADataset`` (or anything :meth:`QADataset.from_any` reads), a mapping
``question -> relevant ids``, or a sequence of ``(question, relevant ids)`` pairs. A single
id (a string or an integer) may stand for a one-element list. Query ids are ``"q0", "q1",
...`` in input order. Empty pairs are refused here, where the mistake is made.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nudge_integrations.core.errors import EmptyTrainingSetError, NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset


def qa_dataset(
    pairs: Any, corpus: Mapping[str, str] | None, *, name: str = "training"
) -> QADataset:
    """Normalise QA pairs against ``corpus`` (id -> text); unknown ids raise, naming them.

    ``corpus=None`` (evaluation, where the retriever owns the corpus) accepts any id."""
    if pairs is None:
        raise NudgeError(f"no {name} QA pairs given")
    if corpus is None:
        corpus = _mentioned_ids(pairs)
    if isinstance(pairs, QADataset) or hasattr(pairs, "relevant_docs"):
        ds = QADataset.from_any(pairs)
        return _nonempty(
            QADataset(
                queries=ds.queries,
                corpus={**ds.corpus, **corpus},
                relevant_docs=ds.relevant_docs,
                relevance_scores=ds.relevance_scores,
            ),
            name,
        )
    if isinstance(pairs, Mapping) and {"queries", "relevant_docs"} <= set(pairs):
        merged = {**corpus, **dict(pairs.get("corpus") or {})}
        return _nonempty(
            qa_dataset(QADataset.from_dict({**pairs, "corpus": merged}), corpus, name=name), name
        )
    if isinstance(pairs, str | os.PathLike) and Path(pairs).suffix.lower() == ".json":
        return qa_dataset(QADataset.from_any(pairs), corpus, name=name)
    if isinstance(pairs, str | bytes):
        raise NudgeError(
            f"{name} pairs must be {{question: [doc ids]}}, [(question, [doc ids])], a "
            f"QADataset or the path of its .json file, not the string {pairs[:60]!r}"
        )
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    if not items:
        raise EmptyTrainingSetError(
            f"the {name} QA pairs are empty: give at least one (question, [relevant doc ids])"
        )
    queries: dict[str, str] = {}
    relevant: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if not (isinstance(item, Sequence) and len(item) == 2 and isinstance(item[0], str)):
            raise NudgeError(f"{name} pair {i} must be (question, relevant ids), got {item!r}")
        question, ids = item
        if isinstance(ids, str | int):  # a single id stands for a one-element list
            ids = [ids]
        if not isinstance(ids, Iterable):
            raise NudgeError(f"{name} pair {i}: relevant ids must be a list, got {ids!r}")
        id_list = [str(x) for x in ids]
        if not id_list:
            raise NudgeError(f"{name} pair {i} ({question[:60]!r}) lists no relevant ids")
        unknown = [d for d in id_list if d not in corpus]
        if unknown:  # named by the user's question, not the internal query id
            raise UnknownIdError(
                f"{name} pair {i} ({question[:60]!r}) marks {unknown[0]!r} relevant, but no "
                "document has that id: add the document or fix the id"
            )
        queries[f"q{i}"] = question
        relevant[f"q{i}"] = list(dict.fromkeys(id_list))
    return QADataset(queries=queries, corpus=dict(corpus), relevant_docs=relevant)


def _nonempty(ds: QADataset, name: str) -> QADataset:
    if not len(ds):
        raise EmptyTrainingSetError(
            f"the {name} QA dataset has no queries: give at least one question with its "
            "relevant doc ids"
        )
    return ds


def _mentioned_ids(pairs: Any) -> dict[str, str]:
    """Every id the pairs mark relevant, as a text-less corpus (no corpus to check against)."""
    if isinstance(pairs, QADataset) or hasattr(pairs, "relevant_docs"):
        return dict.fromkeys(QADataset.from_any(pairs).corpus, "")
    docs: list[Any]
    if isinstance(pairs, Mapping) and "relevant_docs" in pairs:
        docs = list(dict(pairs["relevant_docs"]).values())
    elif isinstance(pairs, Mapping):
        docs = list(pairs.values())
    elif isinstance(pairs, Sequence) and not isinstance(pairs, str | bytes):
        docs = [item[1] for item in pairs if isinstance(item, Sequence) and len(item) == 2]
    else:
        return {}
    out: dict[str, str] = {}
    for ids in docs:
        for i in [ids] if isinstance(ids, str | int) else ids if isinstance(ids, Iterable) else []:
            out[str(i)] = ""
    return out
