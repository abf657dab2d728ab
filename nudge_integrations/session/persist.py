"""Saving fits without pickle: a folder of ``.npy`` arrays and one JSON file (both adapters).

The JSON is written last (temp file, then rename), so its presence marks a complete save.
The embedding model is never written, only its name, which loading checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.model_identity import model_identity

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
    full = {"format": FORMAT, "embeddings": model_identity(embeddings), **state}
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
    try:
        saved = state["embeddings"]
        saved_model, saved_class = str(saved["name"]), str(saved["class"])
    except (KeyError, TypeError) as exc:
        raise NudgeError(f"{root / json_name} is incomplete (no {exc}): save again") from exc
    if check_model:
        require_same_model(saved_model, saved_class, embeddings, str(root))
    arrays = {}
    for name in names:
        try:
            arrays[name] = np.load(root / f"{name}.npy", allow_pickle=False)
        except ValueError as exc:
            raise NudgeError(f"{root / name}.npy is not a plain .npy array ({exc})") from exc
    return state, arrays


def require_same_model(saved: str, saved_class: str, model: Any, where: str) -> None:
    """Refuse a model other than the one that made the saved vectors (by name)."""
    given = model_identity(model)
    if given["name"] != saved:
        raise NudgeError(
            f"the vectors in {where} were made with embedding model {saved!r} "
            f"({saved_class}), but {given['name']!r} ({given['class']}) was given: pass that "
            "model (queries must be embedded like the documents), or check_model=False if it "
            "is the same model under another name"
        )
