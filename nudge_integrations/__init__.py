"""NUDGE non-parametric embedding fine-tuning for LlamaIndex and LangChain retrieval."""

from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.errors import NudgeError

__all__ = ["NudgeError", "NudgeM", "NudgeN", "NudgeResult"]
__version__ = "0.1.0"
