"""Execute a notebook in place with nbclient (the kernel is this interpreter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient


def execute(path: Path, *, timeout: int = 900, write: bool = False) -> Any:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    if write:
        nbformat.write(nb, path)
    return nb


def last_json(nb: Any) -> dict[str, Any]:
    """The JSON object printed by the last code cell that printed one."""
    for cell in reversed(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            for line in reversed(text.strip().splitlines()):
                if line.startswith("{"):
                    return dict(json.loads(line))
    raise AssertionError("the notebook printed no JSON summary")
