"""Best untouched competitors of each validation query, found once per fit.

A record with no training query never moves, so its score against a validation query
does not depend on gamma. One chunked top-k pass over the corpus, skipping the touched
records, therefore gives every gamma candidate all the untouched competition it needs.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from nudge_integrations.core.search import topk_scan


class CompetitorSource(Protocol):
    """Anything that returns, per query, the ``k`` best records outside ``exclude``.

    Scores must be ``query . normalise(record)`` (cosine up to the query norm), best first;
    empty slots hold score ``-inf`` and row ``-1``.
    """

    def topk(
        self, queries: torch.Tensor, k: int, exclude: NDArray[np.bool_]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores, rows), each ``(n_queries, k)`` on the queries' device."""
        ...


class InMemoryCompetitors:
    """Exact competitors from an in-memory array or ``np.memmap``, scanned in chunks.

    ``validate=True`` makes the CPU scan refuse NaN/inf and all-zero rows as it reads
    them, so a fit that scans anyway needs no separate validation pass over the corpus.
    """

    def __init__(self, corpus: NDArray[Any], chunk_size: int | None = None, validate: bool = False):
        self.corpus = corpus
        self.chunk_size = chunk_size
        self.validate = validate

    def topk(
        self, queries: torch.Tensor, k: int, exclude: NDArray[np.bool_]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return topk_scan(
            queries,
            self.corpus,
            k,
            normalize_corpus=True,
            exclude=exclude,
            chunk_size=self.chunk_size,
            allow_zero=not self.validate,
        )
