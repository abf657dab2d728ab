"""Check estimator keyword arguments where users pass them (an adapter's constructor),
so a typo fails at once with a suggestion, not at fit time with a private class's name."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from nudge_integrations.core.arguments import unknown_keyword
from nudge_integrations.core.fit import NudgeM, NudgeN


def estimator_params(variant: str) -> set[str]:
    """Keyword arguments the NUDGE-N or NUDGE-M estimator accepts."""
    names: set[str] = set()
    for cls in (NudgeN if variant == "N" else NudgeM).__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind is p.KEYWORD_ONLY:
                names.add(p.name)
    return names


def check_fit_params(
    params: Mapping[str, Any], variant: str, where: str, own: Iterable[str] = ()
) -> dict[str, Any]:
    """``params`` unchanged when the estimator accepts every key; else an error naming
    ``where`` that suggests the closest of the estimator's and the caller's ``own``
    arguments."""
    allowed = estimator_params(variant)
    for key in params:
        if key not in allowed:
            raise unknown_keyword(key, where, allowed | set(own))
    return dict(params)
