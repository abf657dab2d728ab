"""QA pairs in the shapes users have them -> a :class:`QADataset` over a known corpus.

Accepted: a ``QADataset`` (or anything :meth:`QADataset.from_any` reads), a mapping
``question -> relevant ids``, or a sequence of ``(question, relevant ids)`` pairs. A single
id may stand for a one-element list. Query ids are ``"q0", "q1", ...`` in input order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nudge_integrations.data.dataset import QADataset
from nudge_integrations.errors import NudgeError


def qa_dataset(pairs: Any, corpus: Mapping[str, str], *, name: str = "training") -> QADataset:
    """Normalise QA pairs against ``corpus`` (id -> text); unknown ids raise, naming them."""
    if pairs is None:
        raise NudgeError(f"no {name} QA pairs given")
    if isinstance(pairs, QADataset) or hasattr(pairs, "relevant_docs"):
        ds = QADataset.from_any(pairs)
        return QADataset(
            queries=ds.queries,
            corpus={**ds.corpus, **corpus},
            relevant_docs=ds.relevant_docs,
            relevance_scores=ds.relevance_scores,
        )
    if isinstance(pairs, Mapping) and {"queries", "relevant_docs"} <= set(pairs):
        return qa_dataset(QADataset.from_dict({"corpus": {}, **pairs}), corpus, name=name)
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    queries: dict[str, str] = {}
    relevant: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if not (isinstance(item, Sequence) and len(item) == 2 and isinstance(item[0], str)):
            raise NudgeError(f"{name} pair {i} must be (question, relevant ids), got {item!r}")
        question, ids = item
        id_list = [ids] if isinstance(ids, str) else [str(x) for x in ids]
        queries[f"q{i}"] = question
        relevant[f"q{i}"] = list(dict.fromkeys(id_list))
    return QADataset(queries=queries, corpus=dict(corpus), relevant_docs=relevant)
