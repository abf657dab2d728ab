"""SciFact with its precomputed MiniLM embeddings, the paper's split and the OOD split.

Everything here is read from ``../shared/data`` (see its README): the BEIR archive for
texts and judgements, ``scifact-minilm/`` for the base all-MiniLM-L6-v2 vectors
(normalised, 256-token default, ``title + " " + text``). The paper's split is
``nudge_integrations.data.paper_split`` (778/110/221 queries).
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.metrics import score_columns
from nudge_integrations.core.search import exact_search
from nudge_integrations.data import load_beir, paper_split
from nudge_integrations.data.dataset import QADataset

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
SCIFACT_EMB = SHARED_DATA / "scifact-minilm"
SCIFACT_BEIR = SHARED_DATA / "scifact-beir.tar.gz"

#: The reported metrics, as (name, k) columns of ``score_columns``.
COLUMNS: tuple[tuple[str, int], ...] = (("ndcg", 10), ("recall", 1), ("recall", 10), ("mrr", 10))


@dataclass
class Queries:
    """One set of queries: ids, texts, base vectors and relevance by corpus row."""

    ids: list[str]
    texts: list[str]
    vectors: NDArray[np.float32]
    relevant: list[dict[int, float]]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: NDArray[np.int64] | list[int]) -> Queries:
        sel = [int(i) for i in idx]
        return Queries(
            [self.ids[i] for i in sel],
            [self.texts[i] for i in sel],
            self.vectors[sel],
            [self.relevant[i] for i in sel],
        )

    def concat(self, other: Queries) -> Queries:
        return Queries(
            self.ids + other.ids,
            self.texts + other.texts,
            np.vstack([self.vectors, other.vectors]),
            self.relevant + other.relevant,
        )

    def rows(self) -> list[list[int]]:
        """Relevant rows per query (the training signal ignores grades, as NUDGE does)."""
        return [sorted(r) for r in self.relevant]


@dataclass
class SciFact:
    """The corpus (vectors, ids, texts) and the query splits by name."""

    corpus: NDArray[np.float32]
    corpus_ids: list[str]
    corpus_texts: list[str]
    splits: dict[str, Queries] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.corpus.shape[0])


def available() -> bool:
    return (SCIFACT_EMB / "corpus.npy").is_file() and SCIFACT_BEIR.is_file()


def _record_text(doc: object) -> str:
    if isinstance(doc, dict):
        return f"{doc.get('title', '')} {doc.get('text', '')}".strip()
    return str(doc)


def load(limit_queries: int | None = None) -> SciFact:
    """SciFact, the paper's split; ``limit_queries`` keeps the first few of each (smoke)."""
    corpus = np.load(SCIFACT_EMB / "corpus.npy").astype(np.float32)
    qvecs = np.load(SCIFACT_EMB / "queries.npy").astype(np.float32)
    corpus_ids: list[str] = json.loads((SCIFACT_EMB / "corpus_ids.json").read_text())
    query_ids: list[str] = json.loads((SCIFACT_EMB / "query_ids.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(SCIFACT_BEIR) as tar:
            tar.extractall(tmp, filter="data")
        data = load_beir(Path(tmp) / "scifact")
        texts = _corpus_texts(Path(tmp) / "scifact" / "corpus.jsonl", corpus_ids)
    parts = paper_split(data)
    crow = {c: i for i, c in enumerate(corpus_ids)}
    qrow = {q: i for i, q in enumerate(query_ids)}
    out = SciFact(corpus, corpus_ids, texts)
    for name, part in parts.items():
        out.splits[name] = _queries(part, qvecs, qrow, crow, limit_queries)
    return out


def _corpus_texts(path: Path, ids: list[str]) -> list[str]:
    by_id: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            by_id[str(doc["_id"])] = _record_text(doc)
    return [by_id[i] for i in ids]


def _queries(
    part: QADataset,
    qvecs: NDArray[np.float32],
    qrow: dict[str, int],
    crow: dict[str, int],
    limit: int | None,
) -> Queries:
    qids = part.query_ids[:limit] if limit else part.query_ids
    rel = [{crow[d]: float(g) for d, g in part.grades(q).items()} for q in qids]
    return Queries(list(qids), [part.queries[q] for q in qids], qvecs[[qrow[q] for q in qids]], rel)


def score(
    queries: NDArray[np.float32],
    corpus: NDArray[np.float32],
    relevant: list[dict[int, float]],
    *,
    similarity: str = "dot",
) -> dict[str, float]:
    """NDCG@10, recall@1, recall@10 and MRR@10 of exact search over ``corpus``."""
    if len(relevant) == 0:
        return {f"{m}@{k}": float("nan") for m, k in COLUMNS}
    _, rows = exact_search(queries, corpus, 10, similarity=similarity, device="cpu")
    return score_columns(rows, relevant, COLUMNS, n_rows=corpus.shape[0])


def normalise(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def batches_without_repeats(
    pairs: list[tuple[int, int]], size: int, rng: np.random.Generator
) -> list[list[int]]:
    """Shuffled pair indices cut into batches in which no record repeats."""
    order = rng.permutation(len(pairs))
    batches: list[list[int]] = []
    open_: list[tuple[list[int], set[int]]] = []
    for i in order:
        doc = pairs[i][1]
        for batch, docs in open_:
            if doc not in docs and len(batch) < size:
                batch.append(int(i))
                docs.add(doc)
                break
        else:
            open_.append(([int(i)], {doc}))
        full = [b for b in open_ if len(b[0]) >= size]
        batches.extend(b[0] for b in full)
        open_ = [b for b in open_ if len(b[0]) < size]
    batches.extend(b[0] for b in open_ if len(b[0]) > 1)
    return batches
