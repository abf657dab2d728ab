"""One exception family for every input problem the package detects.

All of them subclass :class:`ValueError`, so callers that already catch
``ValueError`` keep working, while ``except NudgeError`` catches only ours; a call's bad
arguments (:class:`ArgumentError`) are also a ``TypeError``, as Python's own are.
Each message names the problem and says how to fix it.
"""

from __future__ import annotations


class NudgeError(ValueError):
    """Base class of every error raised for bad input to nudge-integrations."""


class ShapeError(NudgeError):
    """An array has the wrong number of dimensions, rows or columns."""


class NonFiniteError(NudgeError):
    """An embedding holds NaN or infinity."""


class ZeroVectorError(NudgeError):
    """An embedding is all zeros, so it has no direction to compare or nudge."""


class EmptyTrainingSetError(NudgeError):
    """There are no training (or validation) queries to learn from."""


class UnknownIdError(NudgeError, KeyError):
    """An id was referenced that the corpus (or query set) does not contain."""

    def __str__(self) -> str:  # KeyError would quote the message; show it plainly
        return str(self.args[0]) if self.args else ""


class DuplicateIdError(NudgeError):
    """The same id appears twice where ids must be unique."""


class MetricMismatchError(NudgeError):
    """The requested similarity or evaluation metric cannot serve these vectors."""


class NotFittedError(NudgeError, AttributeError):
    """A fitted attribute was read before ``fit`` was called."""


class ArgumentError(NudgeError, TypeError):
    """A call's arguments do not fit the function: a missing or extra argument, or a value
    of a type it cannot use (a string where a list of ids or a count is expected)."""


class UnknownKeywordError(ArgumentError):
    """A keyword argument the function does not take (the message suggests the nearest)."""
