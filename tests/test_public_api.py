"""The public API is the subpackages' ``__all__``: every import the README, the docs and
the notebooks show names a module that declares ``__all__``, and a name listed there."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from .optional import missing

ROOT = Path(__file__).resolve().parents[1]
FROM = re.compile(r"^\s*from (nudge_integrations[\w.]*) import (?:\(([^)]*)\)|([\w, ]+))", re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _code(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return path.read_text()


def _imports() -> list[tuple[str, str, str]]:
    """(page, module, name) of every ``from nudge_integrations... import name``."""
    out = []
    for path in PAGES + NOTEBOOKS:
        for module, grouped, plain in FROM.findall(_code(path)):
            for name in re.split(r"[,\s]+", grouped or plain):
                if name and name != "as" and not name.startswith("_"):
                    out.append((path.name, module, name))
    return out


IMPORTS = _imports()


def test_the_pages_show_imports() -> None:
    """The scan finds what it should (else the checks below check nothing)."""
    assert len(IMPORTS) > 40
    assert ("README.md", "nudge_integrations.llama_index", "NudgeFinetuneEngine") in IMPORTS
    # names inside a parenthesised import count too
    grouped = [i for i in IMPORTS if i[0] == "tutorial_llama_index.ipynb"]
    assert (
        "tutorial_llama_index.ipynb",
        "nudge_integrations.llama_index",
        "ranked_node_ids",
    ) in grouped


@pytest.mark.parametrize(("page", "module", "name"), IMPORTS)
def test_pages_import_only_the_public_api(page: str, module: str, name: str) -> None:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # an optional extra not installed here
        missing(repr(module), str(exc))
    public = getattr(mod, "__all__", None)
    assert public is not None, f"{page} imports from {module}, which declares no __all__"
    assert name in public, f"{page} imports {name} from {module}, not in its __all__"


@pytest.mark.parametrize(
    "package",
    ["core", "data", "stores", "session", "llama_index", "langchain"],
)
def test_every_public_name_exists(package: str) -> None:
    mod = importlib.import_module(f"nudge_integrations.{package}")
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"nudge_integrations.{package}.__all__ lists {missing}"
