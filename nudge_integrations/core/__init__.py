"""Framework-free NUDGE core: estimators, result, gamma search (numpy and torch only)."""

from nudge_integrations.core.competitors import CompetitorSource, InMemoryCompetitors
from nudge_integrations.core.device import resolve_device
from nudge_integrations.core.fit import NudgeM, NudgeN
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.gamma import REFERENCE_N_GRID
from nudge_integrations.core.result import NudgeResult
from nudge_integrations.core.sources import ArraySource, RecordSource, SourceCompetitors

__all__ = [
    "REFERENCE_N_GRID",
    "ArraySource",
    "CompetitorSource",
    "InMemoryCompetitors",
    "NudgeM",
    "NudgeN",
    "NudgeResult",
    "RecordSource",
    "SourceCompetitors",
    "fit_by_id",
    "resolve_device",
]
