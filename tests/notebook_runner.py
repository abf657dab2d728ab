"""Execute a notebook with nbclient (the kernel is this interpreter), and refresh the
committed outputs in a neutral temporary home.

``python -m tests.notebook_runner notebooks/*.ipynb`` re-executes the named notebooks the
way their committed outputs are made: HOME, the working folder, the cache and the data all
in one temporary folder (removed afterwards), no ``NUDGE_*`` variable inherited, SciFact
from ``../shared/data`` when present. The outputs then name no folder of this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def execute(path: Path, *, timeout: int = 900, write: bool = False) -> Any:
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    if write:
        nbformat.write(nb, path)  # type: ignore[no-untyped-call]
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


def neutral_env(tmp: Path) -> dict[str, str]:
    """The environment a committed notebook is executed in: a temporary HOME, no
    ``NUDGE_*`` setting of this machine, SciFact's archive and precomputed vectors from
    ``../shared/data`` (the notebooks print them as ``$NUDGE_...``, never as paths)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUDGE_", "XDG_"))}
    home = tmp / "home"
    home.mkdir()
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", TMPDIR=str(tmp / "tmp"))
    (tmp / "tmp").mkdir()
    archive = SHARED_DATA / "scifact-beir.tar.gz"
    if archive.is_file():
        data = tmp / "data"
        data.mkdir()
        shutil.copy(archive, data / "scifact.tar.gz")
        env["NUDGE_DATA_DIR"] = str(data)
        env["NUDGE_SCIFACT_EMBEDDINGS"] = str(SHARED_DATA / "scifact-minilm")
    return env


def refresh(paths: list[Path], *, timeout: int = 900) -> None:
    """Re-execute ``paths`` in a neutral temporary home and write their outputs back."""
    saved = dict(os.environ)
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="nudge-nb-") as tmp_name:
            tmp = Path(tmp_name)
            os.environ.clear()
            os.environ.update(neutral_env(tmp))
            try:
                work = tmp / "work"
                work.mkdir()
                copy = work / path.name
                shutil.copy(path, copy)
                nb = execute(copy, timeout=timeout)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            nbformat.write(nb, path)  # type: ignore[no-untyped-call]
            print(f"{path}: executed, outputs written", flush=True)


if __name__ == "__main__":
    refresh([Path(p).resolve() for p in sys.argv[1:]])
