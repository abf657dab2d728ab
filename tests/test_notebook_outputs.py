"""The committed notebooks read the same wherever they run: no folder of the machine that
executed them, no warning and no meaningless model name in their outputs, and every
environment variable they read named in their first code cell. (Executing them:
``tests/test_tutorials.py``; refreshing their outputs: ``tests/notebook_runner.py``.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


# Absolute folders of the machine that executed a notebook: none may show in its outputs.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|Users|var/folders|private)/")


def _outputs(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("text") or "".join(out.get("data", {}).get("text/plain", ""))
            texts.append("".join(text))
    return texts


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_outputs_are_neutral(path: Path) -> None:
    """Committed outputs read the same wherever the notebook runs: no folder of the
    machine that executed it, no warning left in them, and model names that mean
    something (a local model folder once showed as "model model")."""
    for text in _outputs(path):
        assert not MACHINE_PATH.search(text), f"{path.name}: a machine path in {text[:300]!r}"
        assert "Warning" not in text, f"{path.name}: a warning in {text[:300]!r}"
        assert "model model" not in text, f"{path.name}: {text[:300]!r}"


def test_neutrality_check_catches_what_it_should() -> None:
    """The patterns above find what a run in a temporary folder printed before."""
    for bad in (
        "nudged: ledger /tmp/nbrefresh/ledgers/InMemoryWriter-3848",
        "precomputed corpus vectors from /work/shared/data/scifact-minilm",
        "SciFact (BEIR layout) in /home/me/.cache/nudge-integrations/beir/scifact",
    ):
        assert MACHINE_PATH.search(bad), bad
    for good in ("$NUDGE_LEDGER_DIR/InMemoryWriter-38", "~/.cache/nudge-integrations", "a/tmp/b"):
        assert not MACHINE_PATH.search(good), good


ENV_VAR = re.compile(r"\b(?:NUDGE|HF)_[A-Z_]+\b")


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_environment_variables_are_named_in_the_first_code_cell(path: Path) -> None:
    """Every environment variable a notebook mentions, and those the package reads for it
    (the data folder for SciFact, the ledger folder wherever vectors are swapped), is set
    or explained in the notebook's first code cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    sources = ["".join(cell["source"]) for cell in nb["cells"]]
    code = [s for s, cell in zip(sources, nb["cells"], strict=True) if cell["cell_type"] == "code"]
    named = set(ENV_VAR.findall("\n".join(sources)))
    body = "\n".join(code)
    if "beir_folder(" in body:
        named |= {"NUDGE_DATA_DIR", "NUDGE_CACHE_DIR"}
    if re.search(r"swap_in\(|apply_to_index\(", body):
        named.add("NUDGE_LEDGER_DIR")
    missing = sorted(v for v in named if v not in code[0])
    assert not missing, f"{path.name}: first code cell does not name {missing}"
