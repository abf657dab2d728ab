"""The QA dataset type: queries, corpus and relevance, in LlamaIndex's JSON schema.

``save_json`` writes ``{"queries", "corpus", "relevant_docs", "mode"}`` exactly as
LlamaIndex's ``EmbeddingQAFinetuneDataset`` does, so files move freely both ways.
Graded judgements (BEIR scores other than 1) ride along under ``relevance_scores``, a key
LlamaIndex ignores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError


@dataclass
class QADataset:
    """Queries (id -> text), a corpus (id -> text) and each query's relevant corpus ids.

    Every id is checked on construction: a relevant id missing from the corpus, a query
    with no relevant docs, or relevance for an unknown query raises a :class:`NudgeError`
    naming the id.
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, list[str]]
    mode: str = "text"
    relevance_scores: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queries = {str(k): str(v) for k, v in self.queries.items()}
        self.corpus = {str(k): str(v) for k, v in self.corpus.items()}
        self.relevant_docs = {
            str(q): _unique_ids([str(d) for d in docs], f"relevant_docs of query {q!r}")
            for q, docs in self.relevant_docs.items()
        }
        self.relevance_scores = {
            str(q): {str(d): float(s) for d, s in grades.items()}
            for q, grades in self.relevance_scores.items()
        }
        self.validate()

    def validate(self) -> None:
        """Check every id; raise a :class:`NudgeError` naming the first bad one."""
        for qid in self.queries:
            docs = self.relevant_docs.get(qid)
            if not docs:
                raise NudgeError(
                    f"query {qid!r} has no relevant docs: every query needs at least one "
                    "(drop it, or add its judgements to relevant_docs)"
                )
        for qid, docs in self.relevant_docs.items():
            if qid not in self.queries:
                raise UnknownIdError(
                    f"relevant_docs names query {qid!r}, which is not in queries: add its text "
                    "or drop the entry"
                )
            for doc in docs:
                if doc not in self.corpus:
                    raise UnknownIdError(
                        f"query {qid!r} marks doc {doc!r} relevant, but {doc!r} is not in the "
                        "corpus: add the doc or fix the id"
                    )
        for qid, grades in self.relevance_scores.items():
            extra = set(grades) - set(self.relevant_docs.get(qid, ()))
            if extra:
                raise UnknownIdError(
                    f"relevance_scores of query {qid!r} grade {sorted(extra)[0]!r}, which is "
                    "not among its relevant_docs"
                )

    # ----------------------------------------------------------------- access
    @property
    def query_ids(self) -> list[str]:
        """Query ids in insertion order."""
        return list(self.queries)

    @property
    def corpus_ids(self) -> list[str]:
        """Corpus ids in insertion order."""
        return list(self.corpus)

    def grades(self, qid: str) -> dict[str, float]:
        """``{doc_id: gain}`` of one query (gain 1 where no grade was given)."""
        graded = self.relevance_scores.get(qid, {})
        return {doc: graded.get(doc, 1.0) for doc in self.relevant_docs[qid]}

    def judgements(self, query_ids: Iterable[str] | None = None) -> list[dict[str, float]]:
        """Per-query ``{doc_id: gain}`` in the order of ``query_ids`` (default: all)."""
        return [self.grades(q) for q in (self.query_ids if query_ids is None else query_ids)]

    def subset(self, query_ids: Iterable[str]) -> QADataset:
        """The same corpus with only the given queries (in that order)."""
        ids = list(query_ids)
        for q in ids:
            if q not in self.queries:
                raise UnknownIdError(f"query {q!r} is not in this dataset")
        return QADataset(
            queries={q: self.queries[q] for q in ids},
            corpus=self.corpus,
            relevant_docs={q: self.relevant_docs[q] for q in ids},
            mode=self.mode,
            relevance_scores={
                q: self.relevance_scores[q] for q in ids if q in self.relevance_scores
            },
        )

    def merged(self, other: QADataset) -> QADataset:
        """The union of two datasets; a query id reused with other text is an error."""
        for qid, text in other.queries.items():
            if qid in self.queries and self.queries[qid] != text:
                raise DuplicateIdError(
                    f"query id {qid!r} already exists with different text: give it a new id"
                )
        return QADataset(
            queries={**self.queries, **other.queries},
            corpus={**self.corpus, **other.corpus},
            relevant_docs={**self.relevant_docs, **other.relevant_docs},
            relevance_scores={**self.relevance_scores, **other.relevance_scores},
        )

    def without_docs(self, gone: set[str]) -> QADataset:
        """The dataset with ``gone`` removed from the corpus and every judgement; queries
        left with no relevant document are dropped."""
        relevant = {q: [d for d in docs if d not in gone] for q, docs in self.relevant_docs.items()}
        keep = [q for q in self.query_ids if relevant[q]]
        return QADataset(
            queries={q: self.queries[q] for q in keep},
            corpus={d: t for d, t in self.corpus.items() if d not in gone},
            relevant_docs={q: relevant[q] for q in keep},
            relevance_scores={
                q: {d: g for d, g in self.relevance_scores[q].items() if d not in gone}
                for q in keep
                if q in self.relevance_scores
            },
        )

    def __len__(self) -> int:
        return len(self.queries)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The LlamaIndex schema (plus ``relevance_scores`` when any grade is not 1)."""
        data: dict[str, Any] = {
            "queries": self.queries,
            "corpus": self.corpus,
            "relevant_docs": self.relevant_docs,
            "mode": self.mode,
        }
        graded = {
            q: g for q, g in self.relevance_scores.items() if any(v != 1.0 for v in g.values())
        }
        if graded:
            data["relevance_scores"] = graded
        return data

    def save_json(self, path: str | Path) -> None:
        """Write the dataset as JSON (readable by ``EmbeddingQAFinetuneDataset.from_json``)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QADataset:
        """Build from the LlamaIndex schema dictionary."""
        missing = [key for key in ("queries", "corpus", "relevant_docs") if key not in data]
        if missing:
            raise NudgeError(
                f"QA dataset is missing {', '.join(missing)}: expected the keys queries, corpus "
                "and relevant_docs (LlamaIndex's EmbeddingQAFinetuneDataset schema)"
            )
        relevant = dict(data["relevant_docs"])
        for q, docs in relevant.items():
            if isinstance(docs, str | bytes | int) or not isinstance(docs, Iterable):
                raise NudgeError(
                    f"relevant_docs of query {q!r} must be a list of ids, got {docs!r}: write "
                    f"[{docs!r}]"
                )
        return cls(
            queries=dict(data["queries"]),
            corpus=dict(data["corpus"]),
            relevant_docs={q: list(d) for q, d in relevant.items()},
            mode=str(data.get("mode", "text")),
            relevance_scores=dict(data.get("relevance_scores") or {}),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> QADataset:
        """Read a file written by :meth:`save_json` or by LlamaIndex."""
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise NudgeError(f"{path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_any(cls, obj: Any) -> QADataset:
        """Accept our type, a JSON file's path, a dict, or any object with queries/corpus/
        relevant_docs attributes (e.g. LlamaIndex's ``EmbeddingQAFinetuneDataset``)."""
        if isinstance(obj, QADataset):
            return obj
        if isinstance(obj, str | os.PathLike):
            path = Path(obj)
            if not path.is_file():
                raise NudgeError(
                    f"{str(obj)!r} is not a file: pass the path of a QA dataset JSON "
                    "(LlamaIndex's EmbeddingQAFinetuneDataset schema) or a dataset object"
                )
            return cls.from_json(path)
        if isinstance(obj, Mapping):
            return cls.from_dict(obj)
        if all(hasattr(obj, key) for key in ("queries", "corpus", "relevant_docs")):
            return cls.from_dict(
                {
                    "queries": obj.queries,
                    "corpus": obj.corpus,
                    "relevant_docs": obj.relevant_docs,
                    "mode": getattr(obj, "mode", "text"),
                    "relevance_scores": getattr(obj, "relevance_scores", None),
                }
            )
        raise NudgeError(
            f"cannot read a QA dataset from {type(obj).__name__}: pass a QADataset, a dict, or "
            "an object with queries, corpus and relevant_docs"
        )


def _unique_ids(ids: list[str], where: str) -> list[str]:
    seen: set[str] = set()
    for doc in ids:
        if doc in seen:
            raise DuplicateIdError(f"{where} lists {doc!r} twice: list each relevant id once")
        seen.add(doc)
    return ids
