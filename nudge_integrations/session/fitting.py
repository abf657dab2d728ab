"""What both adapters do between their framework objects and the core fit: settings
checked at the door, every check that needs no question vector made before the first
question is embedded (then one probe question's dimension), judgements mapped onto
chunks, and the fit in memory or by id."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.device import resolve_device
from nudge_integrations.core.errors import (
    EmptyTrainingSetError,
    MetricMismatchError,
    NonFiniteError,
    NudgeError,
    ShapeError,
    ZeroVectorError,
)
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.params import check_fit_params
from nudge_integrations.data.chunks import ChunkRule, check_rule, needs_chunks, to_chunks
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.stores.base import StoreWriter, require_inner_product
from nudge_integrations.stores.binding import Bound

Variant = Literal["N", "M"]


@dataclass(frozen=True)
class SwapTarget:
    """The store a fit reads, as a later swap into it will see it: how it ranks, its name
    in messages, and why its metric is unknown (a binding's ``metric_note``)."""

    similarity: str | None
    label: str
    note: str | None = None

    @classmethod
    def of(cls, bound: Bound) -> SwapTarget:
        return cls(bound.writer.similarity, bound.label, bound.metric_note)


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
        spec = cls(variant, checked, rule)  # type: ignore[arg-type]
        try:
            spec.estimator()  # the estimator checks its values (gamma, metric, ...) now
        except NudgeError as exc:
            raise type(exc)(f"{where}: {exc}") from None
        return spec

    def estimator(self) -> NudgeN | NudgeM:
        """A fresh estimator with these settings (None values left to its defaults,
        except gamma, where None means: choose it on validation)."""
        params = {k: v for k, v in self.params.items() if v is not None or k == "gamma"}
        return NudgeN(**params) if self.variant == "N" else NudgeM(**params)

    def check_device(self) -> None:
        """Refuse a device this machine lacks (``device='cuda'`` without CUDA) before any
        question is embedded; the name itself was checked when the spec was made."""
        resolve_device(self.params.get("device") or "auto")

    def warn_unswappable(self, target: SwapTarget, advice: str | None) -> None:
        """Warn, as a NUDGE-M fit starts, that the store it reads will refuse its vectors,
        with what ``swap_in`` would say (``advice``: its what-to-do-instead)."""
        if self.variant != "M":
            return
        try:
            require_inner_product(target.similarity, target.label, advice, note=target.note)
        except MetricMismatchError as exc:
            warnings.warn(
                f"this NUDGE-M fit reads {target.label}, which swap_in will refuse once it is "
                f"done: {exc}",
                stacklevel=_user_level(),
            )

    def check_training_size(self, n_train: int, has_val: bool, *, hint: str) -> None:
        """Refuse a fit that must hold out training queries to choose gamma but has fewer
        than two; ``hint`` says how to pass validation data in the caller's words."""
        if not has_val and self.params.get("gamma") is None and n_train < 2:
            raise EmptyTrainingSetError(
                "need at least 2 training queries to hold some out for choosing gamma: add "
                f"queries, pass {hint}, or fix gamma="
            )


def _user_level() -> int:
    """``warnings.warn``'s stacklevel, from its caller, of the first frame outside this
    package and asyncio: the user's line that started the fit (or its event loop)."""
    inside = (str(Path(__file__).resolve().parents[1]), str(Path(asyncio.__file__).parent))
    frame, level = inspect.currentframe(), 0
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(inside):
        frame, level = frame.f_back, level + 1
    return max(level, 1)


def check_records(vectors: NDArray[np.float32], ids: Sequence[str], what: str) -> None:
    """Refuse a record vector holding NaN or infinity, or all zeros, naming its id, before
    any question is embedded (the fit would refuse it after)."""
    step = 65536
    for start in range(0, vectors.shape[0], step):
        block = np.asarray(vectors[start : start + step])
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            count = int(bad.sum())
            more = (
                f" (and {count - 1} more in rows {start}..{start + len(block) - 1})"
                if count > 1
                else ""
            )
            raise NonFiniteError(
                f"the vector of {what} {ids[row]!r} contains NaN or infinity{more}: re-embed "
                "or drop it before fitting"
            )
        zero = ~block.any(axis=1)
        if zero.any():
            row = start + int(np.flatnonzero(zero)[0])
            raise ZeroVectorError(
                f"the vector of {what} {ids[row]!r} is all zeros, which has no direction: "
                "re-embed or drop it before fitting"
            )


def check_probe(probe: NDArray[np.float32], dim: int, *, what: str, question: str) -> None:
    """One embedded question against the records' dimension ``dim`` and finiteness, so a
    wrong query model fails after one question, not after all of them."""
    got = probe.shape[-1] if probe.ndim else 0
    if got != dim:
        raise ShapeError(
            f"the query model gives {got}-dimensional question vectors, but the {what} "
            f"vectors have dimension {dim}: embed questions with the model the {what}s were "
            "embedded with"
        )
    if not np.isfinite(probe).all():
        raise NonFiniteError(
            f"the query model returned NaN or infinity for the question {_short(question)!r}: "
            "check the model"
        )


def _short(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


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
