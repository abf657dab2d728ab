"""A tiny deterministic text embedder for tests: hashed word and bigram counts, unit norm.

Texts that share words get similar vectors, so retrieval behaves sensibly, and nothing
is downloaded or slow.
"""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np

DIM = 64


def hash_embed(text: str, dim: int = DIM) -> np.ndarray:
    words = re.findall(r"[a-z0-9]+", text.lower())
    vec = np.zeros(dim, dtype=np.float64)
    for token in words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]:
        h = int.from_bytes(hashlib.md5(token.encode()).digest()[:4], "little")
        vec[h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        vec[0] = 1.0
        norm = 1.0
    return (vec / norm).astype(np.float32)
