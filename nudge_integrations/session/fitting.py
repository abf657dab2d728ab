"""What both adapters do between their framework objects and the core fit: settings
checked at the door, judgements mapped onto chunks, and the fit in memory or by id."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.errors import EmptyTrainingSetError, NudgeError
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.params import check_fit_params
from nudge_integrations.data.chunks import ChunkRule, check_rule, needs_chunks, to_chunks
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.stores.base import StoreWriter

Variant = Literal["N", "M"]


@dataclass(frozen=True)
class FitSpec:
    """How to fit, checked when an adapter is built: variant, estimator keyword
    arguments (with the adapters' default ``refit_with_validation=True``) and the rule
    mapping a relevant document onto its chunks."""

    variant: Variant
    params: dict[str, Any]
    relevant_chunks: ChunkRule

    @classmethod
    def checked(
        cls,
        variant: str,
        relevant_chunks: str,
        params: Mapping[str, Any],
        *,
        where: str,
        own: Iterable[str] = (),
    ) -> FitSpec:
        """The spec, or a clear error naming the bad argument (a typo gets a suggestion)."""
        if variant not in ("N", "M"):
            raise NudgeError(f"variant must be 'N' or 'M', got {variant!r}")
        rule = check_rule(relevant_chunks)
        # measured better on SciFact (docs/paper-comparison.md); False: the reference
        full = {"refit_with_validation": True, **params}
        checked = check_fit_params(full, variant, where, own)
        return cls(variant, checked, rule)  # type: ignore[arg-type]

    def estimator(self) -> NudgeN | NudgeM:
        """A fresh estimator with these settings (None values left to its defaults,
        except gamma, where None means: choose it on validation)."""
        params = {k: v for k, v in self.params.items() if v is not None or k == "gamma"}
        return NudgeN(**params) if self.variant == "N" else NudgeM(**params)

    def check_training_size(self, n_train: int, has_val: bool, *, hint: str) -> None:
        """Refuse a fit that must hold out training queries to choose gamma but has fewer
        than two; ``hint`` says how to pass validation data in the caller's words."""
        if not has_val and self.params.get("gamma") is None and n_train < 2:
            raise EmptyTrainingSetError(
                "need at least 2 training queries to hold some out for choosing gamma: add "
                f"queries, pass {hint}, or fix gamma="
            )


def judgements(
    ds: QADataset,
    queries: NDArray[np.float32],
    *,
    chunks_of: Mapping[str, Sequence[str]],
    known: Container[str],
    vectors: Mapping[str, NDArray[np.float32]],
    rule: ChunkRule,
) -> list[dict[str, float]]:
    """Per-query relevance over records: ids that are records are kept, ids of documents
    become their chunks (``chunks_of``) by ``rule``."""
    judged = ds.judgements()
    if not chunks_of or not needs_chunks(judged, known):
        return judged
    return to_chunks(
        judged,
        chunks_of,
        known,
        rule=rule,
        queries=queries,
        vectors=vectors,
        names=ds.query_ids,
    )


@dataclass
class StoreSource:
    """A store-native fit's corpus: the store's writer (its own search), the base vectors
    in hand (the ledger's and the named records'), and the recall sample size."""

    writer: StoreWriter
    known: dict[str, NDArray[np.float32]]
    recall_sample: int


@dataclass
class Fitted:
    """What a fit gives an adapter: the result, and the store's measured recall (None
    when exact or not measured)."""

    result: NudgeResult
    index_recall: float | None = None


def run_fit(
    spec: FitSpec,
    train_queries: NDArray[np.float32],
    train_relevant: list[dict[str, float]],
    val_queries: NDArray[np.float32] | None = None,
    val_relevant: list[dict[str, float]] | None = None,
    *,
    base: NDArray[np.float32] | None = None,
    ids: Sequence[str] | None = None,
    source: StoreSource | None = None,
) -> Fitted:
    """Fit in memory (``base`` rows aligned with ``ids``) or against a store
    (``source``: competitors from its own search)."""
    estimator = spec.estimator()
    if source is not None:
        fit_by_id(
            estimator,
            source.writer,  # type: ignore[arg-type]
            train_queries,
            train_relevant,
            val_queries,
            val_relevant,
            base=source.known,
            recall_sample=source.recall_sample,
        )
        return Fitted(estimator.result_, estimator.index_recall_)
    if base is None:
        raise NudgeError("a fit needs either the base vectors or a store to search")
    estimator.fit(base, train_queries, train_relevant, val_queries, val_relevant, ids=ids)
    return Fitted(estimator.result_)
