"""QA data keyed by document id, a corpus of chunks: which chunks are relevant.

Frameworks split documents into chunks (LlamaIndex nodes with a ``ref_doc_id``, LangChain
splitters), while questions are usually judged against whole documents. Two rules map a
relevant document to its chunks:

* ``"all"``: every chunk of a relevant document is relevant (same gain);
* ``"best"``: only the chunk the question scores highest (by the base vectors).

``docs/ids.md`` reports the SciFact measurement that picked the default.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError, UnknownIdError

ChunkRule = Literal["all", "best"]
#: The default rule (see docs/ids.md for the measurement behind it).
DEFAULT_RULE: ChunkRule = "all"


def check_rule(rule: str) -> ChunkRule:
    if rule not in ("all", "best"):
        raise NudgeError(f"relevant_chunks must be 'all' or 'best', got {rule!r}")
    return rule  # type: ignore[return-value]


def to_chunks(
    judgements: Sequence[Mapping[str, float]],
    chunks_of: Mapping[str, Sequence[str]],
    known: Container[str],
    *,
    rule: ChunkRule = DEFAULT_RULE,
    queries: NDArray[np.float32] | None = None,
    vectors: Mapping[str, NDArray[np.float32]] | None = None,
    names: Sequence[str] | None = None,
) -> list[dict[str, float]]:
    """Per-query ``{chunk id: gain}`` from per-query ``{id: gain}`` where an id is a chunk
    (kept as is) or a document whose chunks ``chunks_of`` lists. ``"best"`` needs the
    query vectors (rows aligned with ``judgements``) and the chunks' base ``vectors``.
    ``names`` (query ids) make errors name the query."""
    if rule == "best" and (queries is None or vectors is None):
        raise NudgeError("relevant_chunks='best' needs the query and chunk vectors")
    out: list[dict[str, float]] = []
    for j, judged in enumerate(judgements):
        mapped: dict[str, float] = {}
        for doc, gain in judged.items():
            if doc in known:
                mapped[doc] = max(gain, mapped.get(doc, 0.0))
                continue
            chunks = list(chunks_of.get(doc, ()))
            if not chunks:
                who = f"query {names[j]!r}" if names is not None else f"query {j}"
                raise UnknownIdError(
                    f"{who} marks {doc!r} relevant, but no node has that id and no node comes "
                    "from a document with that id (ref_doc_id): add it to the corpus or fix "
                    "the QA data"
                )
            if rule == "best":
                assert queries is not None and vectors is not None
                scores = [float(np.dot(queries[j], vectors[c])) for c in chunks]
                chunks = [chunks[int(np.argmax(scores))]]
            for c in chunks:
                mapped[c] = max(gain, mapped.get(c, 0.0))
        out.append(mapped)
    return out


def needs_chunks(judgements: Sequence[Mapping[str, float]], known: Container[str]) -> bool:
    """Whether any relevant id is not a record id (so it must be a document id)."""
    return any(doc not in known for judged in judgements for doc in judged)
