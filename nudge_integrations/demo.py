"""The main job on an embedded default: NUDGE on a real corpus that ships with Python.

The corpus is the Python language reference's help topics (``pydoc_data.topics``, part
of every CPython install), cut into prose passages. Queries come from the inverse cloze
task (a sentence cut out of each passage), split with the paper's protocol; everything
is embedded by the offline MiniLM model. The table compares test retrieval before and
after NUDGE-N and NUDGE-M.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nudge_integrations.core import NudgeM, NudgeN
from nudge_integrations.core.plots import merge_equal_columns
from nudge_integrations.core.report import evaluate_embeddings, format_table
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pseudo_queries import inverse_cloze
from nudge_integrations.data.splits import paper_split
from nudge_integrations.embedding import MODEL_NAME, default_cache_dir, embed_texts, load_minilm

__all__ = ["CORPUS_NAME", "DemoReport", "demo_dataset", "python_docs_corpus", "run_demo"]

#: What the demo's plots call the offline corpus.
CORPUS_NAME = "Python help topics"


def python_docs_corpus(
    max_passages: int = 400, words: int = 90, *, distinct: bool = False
) -> dict[str, str]:
    """Prose passages of about ``words`` words from Python's bundled help topics.

    Many topics repeat sections of others (``try`` is part of ``compound``, ``naming`` of
    ``execmodel``), so without ``distinct`` some passages are byte-identical or share
    paragraphs. ``distinct=True`` skips a paragraph an earlier topic already gave, so no
    two passages share text: what the demo uses, since a sentence cut from a shared
    paragraph would be a query judged to one copy only, and the copies' scores tie.
    """
    from pydoc_data.topics import topics

    passages: dict[str, str] = {}
    seen: set[str] = set()
    for topic in sorted(topics):
        paragraphs = [p for p in re.split(r"\n\s*\n", topics[topic]) if p.strip()]
        prose = [
            " ".join(p.split())
            for p in paragraphs
            if not p.startswith((" ", "\t"))
            and not set(p.strip()) <= set("*=-~^")
            and len(p.split()) >= 8
        ]
        if distinct:
            prose = [p for p in dict.fromkeys(prose) if p not in seen]
            seen.update(prose)
        chunk: list[str] = []
        for para in prose:
            chunk.append(para)
            if sum(len(c.split()) for c in chunk) >= words:
                passages[f"{topic}-{len(passages)}"] = " ".join(chunk)
                chunk = []
        if chunk and sum(len(c.split()) for c in chunk) >= words // 2:
            passages[f"{topic}-{len(passages)}"] = " ".join(chunk)
        if len(passages) >= max_passages:
            break
    return dict(list(passages.items())[:max_passages])


def demo_dataset(max_passages: int = 400) -> tuple[QADataset, dict[str, QADataset]]:
    """The demo's data: distinct help-topic passages, up to three inverse-cloze queries
    each, split 70/10/20 with the paper's protocol (``train``, ``val``, ``test``).

    A query whose sentence another passage still holds word for word (a stock sentence
    such as "This type has a single value.") is dropped: that passage would answer it
    as well as the one judged relevant."""
    cloze = inverse_cloze(python_docs_corpus(max_passages, distinct=True), per_doc=3)
    kept = {
        q: text
        for q, text in cloze.queries.items()
        if not any(text in cloze.corpus[d] for d in cloze.corpus if d not in cloze.relevant_docs[q])
    }
    dataset = QADataset(
        queries=kept,
        corpus=cloze.corpus,
        relevant_docs={q: cloze.relevant_docs[q] for q in kept},
    )
    return dataset, paper_split(dataset)


@dataclass
class DemoReport:
    """The demo's numbers: a table of test metrics and the fits' summaries."""

    table: dict[str, dict[str, float]]
    summaries: list[str]
    sizes: dict[str, int]
    framework: str = "the framework-free core"
    examples: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    corpus_name: str = ""

    def render(self) -> str:
        what = (
            f"{self.corpus_name} (BEIR), {self.sizes['corpus']} records; judged queries"
            if self.corpus_name
            else f"{self.sizes['corpus']} passages of Python's help topics; queries (inverse cloze)"
        )
        # two names for one fact (hit_rate@10 = recall@10 when each query has one relevant
        # record) are shown as one column
        scores = [c for row in self.table.values() for c in row if "@" in c]
        lines = [
            f"corpus: {what}: train {self.sizes['train']}, val {self.sizes['val']}, "
            f"test {self.sizes['test']}; model {MODEL_NAME}; through {self.framework}",
            "",
            "test retrieval:",
            format_table(merge_equal_columns(self.table, scores)),
            "",
            *self.summaries,
        ]
        if self.examples:
            lines += ["", "test queries that NUDGE-N helped (top 3; * = relevant):", *self.examples]
        if self.plots:
            lines += ["", "plots: " + ", ".join(self.plots)]
        return "\n".join(lines)


def run_demo(
    *, max_passages: int = 400, cache_dir: Path | None = None, device: str = "cpu"
) -> DemoReport:
    """Embed, split, fit NUDGE-N and NUDGE-M, and evaluate on the held-out test queries."""
    dataset, parts = demo_dataset(max_passages)
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    model = load_minilm(device)
    doc_ids = dataset.corpus_ids
    corpus = embed_texts([dataset.corpus[d] for d in doc_ids], model, cache_dir=cache)
    row = {d: i for i, d in enumerate(doc_ids)}

    def queries(name: str) -> tuple[np.ndarray, list[list[int]]]:
        part = parts[name]
        vecs = embed_texts([part.queries[q] for q in part.query_ids], model, cache_dir=cache)
        return vecs, [[row[d] for d in part.relevant_docs[q]] for q in part.query_ids]

    (q_tr, a_tr), (q_va, a_va), (q_te, a_te) = queries("train"), queries("val"), queries("test")
    table = {"no fine-tuning": evaluate_embeddings(q_te, corpus, a_te, device=device)}
    summaries = []
    for label, est in (("NUDGE-N", NudgeN(device=device)), ("NUDGE-M", NudgeM(device=device))):
        start = time.perf_counter()
        est.fit(corpus, q_tr, a_tr, q_va, a_va)
        seconds = time.perf_counter() - start
        nudged = est.nudged_embeddings(corpus)
        table[label] = {
            **evaluate_embeddings(q_te, nudged, a_te, device=device),
            "fit s": round(seconds, 3),
        }
        summaries.append(est.result_.summary())
    table["no fine-tuning"]["fit s"] = 0.0
    sizes = {"corpus": len(doc_ids), **{k: len(v) for k, v in parts.items()}}
    return DemoReport(table=table, summaries=summaries, sizes=sizes)
