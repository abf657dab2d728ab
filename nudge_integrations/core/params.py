"""Check estimator keyword arguments where users pass them (an adapter's constructor),
so a typo fails at once with a suggestion, not at fit time with a private class's name."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from nudge_integrations.core.errors import NudgeError
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
    """``params`` unchanged when the estimator accepts every key; else a clear error that
    suggests the closest name among the estimator's and the caller's ``own`` arguments."""
    allowed = estimator_params(variant)
    known = sorted(allowed | set(own))
    for key in params:
        if key not in allowed:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise NudgeError(
                f"{where} got an unknown keyword argument {key!r}.{hint} Accepted: "
                f"{', '.join(known)}"
            )
    return dict(params)
