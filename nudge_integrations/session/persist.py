"""Saving fits without pickle: a folder of ``.npy`` arrays and one JSON file (both adapters).

The JSON is written last (temp file, then rename), so its presence marks a complete save.
The embedding model is never written, only its identity (name, class and a fingerprint of
its vectors for three fixed strings), which loading checks.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.model_identity import compare, describe, model_identity

FORMAT = 1


def save_folder(
    path: str | Path,
    state: dict[str, Any],
    arrays: Mapping[str, NDArray[np.float32]],
    *,
    json_name: str,
    embeddings: Any,
) -> Path:
    """Write ``arrays`` as ``<name>.npy`` and ``state`` (with the model's identity) as JSON."""
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise NudgeError(f"{root} is a file: pass a folder path to save into")
    full = {"format": FORMAT, "embeddings": recorded_identity(embeddings), **state}
    try:  # serialise first, so a bad value leaves no half-written folder
        text = json.dumps(full, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NudgeError(
            f"the documents or metadata are not JSON-serialisable ({exc}): keep document "
            "metadata to strings, numbers, booleans, lists and dicts"
        ) from exc
    root.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        with open(root / f"{name}.npy", "wb") as f:
            np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    tmp = root / f".{json_name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, root / json_name)
    return root


def load_folder(
    path: str | Path,
    names: Sequence[str],
    *,
    json_name: str,
    what: str,
    embeddings: Any,
    check_model: bool,
) -> tuple[dict[str, Any], dict[str, NDArray[np.float32]]]:
    """Read what :func:`save_folder` wrote: (state, arrays by name), the model checked."""
    root = Path(path)
    if not root.is_dir():
        raise NudgeError(
            f"{root} does not exist or is not a folder: pass the folder given to {what}.save()"
        )
    for name in (json_name, *(f"{n}.npy" for n in names)):
        if not (root / name).is_file():
            raise NudgeError(
                f"{root} holds no saved {what} ({name} is missing): pass the folder given to "
                f"{what}.save(), or save again"
            )
    try:
        state = json.loads((root / json_name).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise NudgeError(f"{root / json_name} is not valid JSON ({exc}): save again") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise NudgeError(
            f"{root / json_name} is not a {what} save of format {FORMAT}: save it again with "
            "this version of nudge-integrations"
        )
    saved = state.get("embeddings")
    if not isinstance(saved, dict) or "name" not in saved or "class" not in saved:
        raise NudgeError(f"{root / json_name} is incomplete (no model identity): save again")
    if check_model:
        check_model_identity(saved, embeddings, str(root))
    arrays = {}
    for name in names:
        try:
            arrays[name] = np.load(root / f"{name}.npy", allow_pickle=False)
        except ValueError as exc:
            raise NudgeError(f"{root / name}.npy is not a plain .npy array ({exc})") from exc
    return state, arrays


def recorded_identity(model: Any) -> dict[str, Any]:
    """What a save records of the embedding model: name, class and fingerprint (three
    query embeddings). A model that fails to embed them (an API that is down) is
    recorded by name and class alone, with a warning: loading then checks the name."""
    try:
        return model_identity(model, with_fingerprint=True)
    except Exception as exc:  # the model's own error, of whatever kind: the save goes on
        found = model_identity(model)
        warnings.warn(
            f"embedding model {found['name']!r} could not embed the fingerprint's probe "
            f"strings ({type(exc).__name__}: {exc}): saved with its name only, which is all "
            "a load will check",
            stacklevel=3,
        )
        return {**found, "fingerprint": None}


def check_model_identity(
    recorded: Mapping[str, Any], model: Any, where: str, *, warn: bool = True
) -> None:
    """Refuse a model other than the one that made the saved vectors: another name, or
    the same name with other weights (its vectors for the probe strings differ). A save
    without a fingerprint (an earlier version's) is checked by name, with a warning
    (``warn=False``: without)."""
    found = compare(recorded, model)
    if found.same:
        if found.note is not None and warn:
            warnings.warn(f"loading {where}: {found.note}", stacklevel=4)
        return
    raise NudgeError(
        f"the vectors in {where} were made with embedding model {describe(recorded)}, but "
        f"{describe(found.given)} was given ({found.problem}): pass that model (queries must "
        "be embedded like the documents), or check_model=False if it is the same model"
    )
