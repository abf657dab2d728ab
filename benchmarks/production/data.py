"""The synthetic problem: N unit records x 384 with short unique texts, and training and
validation questions that name tens of thousands of distinct records (seeded).

The corpus is ``bench_fit``'s clustered one (records spread around cluster centres, so a
question's own record has close competitors). Each of ``n_train`` distinct records gets
one training question: its vector plus a hidden offset of its own plus noise,
normalised; ``n_val`` validation questions ask again about some of them (same offset,
fresh noise), so NUDGE's pull toward the training question helps them and the fit moves
every named record. Question texts and record texts map back to their vectors through
:class:`Lookup`, the "embedding model" both frameworks are given.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_fit import DOCS_PER_CENTRE, GEN_CHUNK, QUERY_NOISE, SHIFT, SPREAD

DIM = 384
WORDS = [
    "alpha",
    "bravo",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "gale",
    "harbor",
    "iris",
    "juniper",
    "kelp",
    "lumen",
    "maple",
    "nectar",
    "onyx",
    "prairie",
    "quartz",
    "river",
    "sable",
    "tundra",
    "umber",
    "vale",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
]
MODEL = "lookup-384"


@dataclass
class Problem:
    """Ids, texts and unit vectors of the records; questions as (text, [id]) pairs."""

    ids: list[str]
    texts: list[str]
    base: NDArray[np.float32]
    train: list[tuple[str, list[str]]]
    val: list[tuple[str, list[str]]]
    train_q: NDArray[np.float32]
    val_q: NDArray[np.float32]

    @property
    def named(self) -> list[str]:
        """Every record a question names (training first), once each."""
        return list(dict.fromkeys(i for _, rel in self.train + self.val for i in rel))

    def lookup(self) -> Lookup:
        """Texts (records and questions) to their vectors."""
        texts = self.texts + [q for q, _ in self.train] + [q for q, _ in self.val]
        return Lookup(texts, np.concatenate([self.base, self.train_q, self.val_q]))

    def corpus_of(self, ids: list[str]) -> dict[str, str]:
        """Texts of ``ids`` (what a QA dataset's corpus needs: the named records)."""
        at = {i: n for n, i in enumerate(self.ids)}
        return {i: self.texts[at[i]] for i in ids}


class Lookup:
    """A deterministic "embedding model": each known text's precomputed vector."""

    def __init__(self, texts: list[str], vectors: NDArray[np.float32]) -> None:
        self.row = {t: n for n, t in enumerate(texts)}
        self.vectors = vectors

    def __call__(self, text: str) -> list[float]:
        row = self.row.get(text)
        if row is not None:
            found: list[float] = self.vectors[row].tolist()
            return found
        # a probe such as langchain-qdrant's "dummy_text": a unit vector seeded by the text
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vec = np.random.default_rng(seed).standard_normal(self.vectors.shape[1])
        probe: list[float] = (vec / np.linalg.norm(vec)).astype(np.float32).tolist()  # type: ignore[assignment]
        return probe


def record_id(i: int) -> str:
    """UUID-shaped ids: Qdrant accepts nothing else, the other stores do not mind."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"nudge-production-{i}"))


def make(n: int, seed: int = 0, n_train: int = 30_000, n_val: int = 3_000) -> Problem:
    """The seeded problem: ``n`` records, ``n_train`` distinct records named once each by
    training questions, ``n_val`` validation questions about some of those."""
    if n_train > n:
        raise SystemExit(f"--train {n_train} exceeds --n {n}: each question names its own record")
    rng = np.random.default_rng(seed)
    n_centres = max(8, n // DOCS_PER_CENTRE)
    centres = rng.standard_normal((n_centres, DIM), dtype=np.float32)
    base = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, GEN_CHUNK):
        block = base[start : min(n, start + GEN_CHUNK)]
        np.take(centres, rng.integers(0, n_centres, len(block)), axis=0, out=block)
        block += np.float32(SPREAD) * rng.standard_normal(block.shape, dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    ids = [record_id(i) for i in range(n)]
    words = rng.integers(0, len(WORDS), (n, 3))
    texts = [f"record {i}: " + " ".join(WORDS[w] for w in words[i]) for i in range(n)]
    chosen = rng.choice(n, size=n_train, replace=False)
    offsets = np.float32(SHIFT / np.sqrt(DIM)) * rng.standard_normal(
        (n_train, DIM), dtype=np.float32
    )

    def questions(rows: NDArray[Any], tag: str) -> tuple[list[tuple[str, list[str]]], Any]:
        q = base[chosen[rows]] + offsets[rows]
        q += np.float32(QUERY_NOISE / np.sqrt(DIM)) * rng.standard_normal(q.shape, dtype=np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        pairs = [
            (f"{tag} question {j} about record {chosen[r]}", [ids[chosen[r]]])
            for j, r in enumerate(rows)
        ]
        return pairs, np.ascontiguousarray(q, dtype=np.float32)

    train, train_q = questions(np.arange(n_train), "training")
    val, val_q = questions(rng.choice(n_train, size=n_val, replace=False), "validation")
    return Problem(ids, texts, base, train, val, train_q, val_q)


def lc_embeddings(lookup: Lookup) -> Any:
    """A LangChain ``Embeddings`` answering from ``lookup``."""
    from langchain_core.embeddings import Embeddings

    class LookupEmbeddings(Embeddings):
        model_name = MODEL

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [lookup(t) for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return lookup(text)

    return LookupEmbeddings()


def li_embeddings(lookup: Lookup) -> Any:
    """A LlamaIndex ``BaseEmbedding`` answering from ``lookup``."""
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class LookupEmbedding(BaseEmbedding):
        def _get_text_embedding(self, text: str) -> list[float]:
            return lookup(text)

        def _get_query_embedding(self, query: str) -> list[float]:
            return lookup(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return lookup(query)

    return LookupEmbedding(model_name=MODEL, embed_batch_size=2048)
