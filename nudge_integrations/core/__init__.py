"""Framework-free NUDGE core: estimators, result, gamma search, search and metrics,
errors, plots and shards (numpy and torch only; matplotlib and pyarrow on use)."""

from nudge_integrations.core.competitors import CompetitorSource, InMemoryCompetitors
from nudge_integrations.core.device import resolve_device
from nudge_integrations.core.errors import (
    DuplicateIdError,
    EmptyTrainingSetError,
    MetricMismatchError,
    NonFiniteError,
    NotFittedError,
    NudgeError,
    ShapeError,
    UnknownIdError,
    ZeroVectorError,
)
from nudge_integrations.core.fit import NudgeM, NudgeN
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.gamma import REFERENCE_N_GRID
from nudge_integrations.core.plots import plot_comparison, plot_curve
from nudge_integrations.core.report import evaluate_embeddings, format_table
from nudge_integrations.core.result import NudgeResult
from nudge_integrations.core.shards import ShardedCorpus, fit_shards, write_shards
from nudge_integrations.core.sources import ArraySource, RecordSource, SourceCompetitors

__all__ = [
    "REFERENCE_N_GRID",
    "ArraySource",
    "CompetitorSource",
    "DuplicateIdError",
    "EmptyTrainingSetError",
    "InMemoryCompetitors",
    "MetricMismatchError",
    "NonFiniteError",
    "NotFittedError",
    "NudgeError",
    "NudgeM",
    "NudgeN",
    "NudgeResult",
    "RecordSource",
    "ShapeError",
    "ShardedCorpus",
    "SourceCompetitors",
    "UnknownIdError",
    "ZeroVectorError",
    "evaluate_embeddings",
    "fit_by_id",
    "fit_shards",
    "format_table",
    "plot_comparison",
    "plot_curve",
    "resolve_device",
    "write_shards",
]
