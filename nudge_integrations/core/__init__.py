"""Framework-free NUDGE core: estimators, result, gamma search (numpy and torch only)."""

from nudge_integrations.core.competitors import CompetitorSource, InMemoryCompetitors
from nudge_integrations.core.device import resolve_device
from nudge_integrations.core.fit import NudgeM, NudgeN
from nudge_integrations.core.gamma import REFERENCE_N_GRID
from nudge_integrations.core.result import NudgeResult

__all__ = [
    "REFERENCE_N_GRID",
    "CompetitorSource",
    "InMemoryCompetitors",
    "NudgeM",
    "NudgeN",
    "NudgeResult",
    "resolve_device",
]
