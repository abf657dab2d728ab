"""Training queries without an LLM: the inverse cloze task (ICT).

A sentence cut from a passage stands in for a question about it (Lee et al., 2019).
With ``remove=True`` the chosen sentences are taken out of the passage text, so a
query never appears verbatim in the record it should retrieve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data.dataset import QADataset

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at ., ! or ? followed by a capital, digit or quote."""
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def inverse_cloze(
    corpus: Mapping[str, str],
    *,
    per_doc: int = 2,
    min_words: int = 6,
    remove: bool = True,
    seed: int = 0,
) -> QADataset:
    """Pseudo-queries cut from each passage: up to ``per_doc`` sentences of ``min_words``+.

    Passages with too few eligible sentences (at least one must remain when ``remove``)
    get fewer queries or none. Query ids are ``"<doc_id>#<n>"``.
    """
    if per_doc < 1:
        raise NudgeError(f"per_doc must be at least 1, got {per_doc}")
    rng = np.random.RandomState(seed)
    queries: dict[str, str] = {}
    relevant: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for doc_id, text in corpus.items():
        sentences = split_sentences(text)
        eligible = [i for i, s in enumerate(sentences) if len(s.split()) >= min_words]
        limit = min(per_doc, len(eligible), len(sentences) - 1 if remove else len(eligible))
        chosen = sorted(rng.choice(eligible, size=limit, replace=False).tolist()) if limit else []
        for n, i in enumerate(chosen):
            qid = f"{doc_id}#{n}"
            queries[qid] = sentences[i]
            relevant[qid] = [str(doc_id)]
        kept = [s for i, s in enumerate(sentences) if not (remove and i in chosen)]
        texts[str(doc_id)] = " ".join(kept) if remove else text
    if not queries:
        raise NudgeError(
            f"no passage has a sentence of {min_words}+ words to cut: lower min_words or "
            "supply queries"
        )
    return QADataset(queries=queries, corpus=texts, relevant_docs=relevant)
