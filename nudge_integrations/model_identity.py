"""The name of an embedding model, recorded wherever vectors are saved (never the model).

Vectors only make sense with the model that made them, so ledgers and saved fitters,
retrievers and engines record this name and check it when they are loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def model_name(model: Any) -> str:
    """A best-effort name: ``model_name``, ``model``, ``model_id`` or ``deployment_name``,
    else the framework's ``class_name()``, else the class name. LlamaIndex's placeholder
    ``"unknown"`` does not count as a name."""
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value and value != "unknown":
            # a model loaded from a local folder: its folder's name, not this machine's path
            return Path(value).name if os.path.isabs(value) else value
    class_name = getattr(model, "class_name", None)
    if callable(class_name):
        try:
            named = class_name()
        except TypeError:
            named = None
        if isinstance(named, str) and named:
            return named
    return type(model).__name__


def model_identity(model: Any) -> dict[str, str]:
    """``{"name": ..., "class": "module.Class"}`` of an embedding model."""
    cls = type(model)
    return {"name": model_name(model), "class": f"{cls.__module__}.{cls.__qualname__}"}
