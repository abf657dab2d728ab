"""Optional dependencies in the tests: import one or skip, and under ``NUDGE_STRICT_SKIPS=1``
(CI's full run, where ``.[dev]`` installs them all) fail instead, so a store's tests can
never go quietly green as skipped. Skips for absent data (``../shared``) stay skips."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

#: The environment variable that turns a skip for a missing dependency into a failure.
STRICT_ENV = "NUDGE_STRICT_SKIPS"
#: How every skip for a missing dependency begins (``conftest.py`` reads it back).
MISSING = "missing optional dependency"


def strict() -> bool:
    """Whether a missing optional dependency fails the test instead of skipping it."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str, why: str = "") -> NoReturn:
    """Skip (or, strictly, fail) the test, module or fixture that needs ``what``."""
    message = f"{MISSING} {what}" + (f": {why}" if why else "")
    if strict():
        pytest.fail(f"{message} ({STRICT_ENV}=1 makes this a failure, not a skip)", pytrace=False)
    raise pytest.skip.Exception(message, allow_module_level=True)


def need(module: str, reason: str = "") -> ModuleType:
    """``module`` imported; the caller skipped (strictly: failed) when it cannot be."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = exc  # reported below, outside the handler, without the import's traceback
    missing(repr(module), reason or f"{type(error).__name__}: {error}")
