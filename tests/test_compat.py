"""Private attributes of third-party objects are read only in ``nudge_integrations/compat/``,
and every read there names the versions it was checked against."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nudge_integrations"
COMPAT = PACKAGE / "compat"

# Reads that look private but are not a third-party object's internals, each with why.
ALLOWED = {
    # os._exit is the documented way to end a process at once (a Ray worker dying mid-scan)
    ("ray_engine.py", "os._exit"),
    # IdIndex is ours: core/ids.py reads its own class's lookup table
    ("core/ids.py", "index._row"),
}

_VERSION = re.compile(r"Checked:.*?\d+\.\d+", re.DOTALL)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _ours(tree: ast.Module) -> set[str]:
    """Names a module binds to the package's own modules and objects (``self``, ``cls``
    and relative or ``nudge_integrations`` imports)."""
    names = {"self", "cls"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").split(".")[0] == "nudge_integrations"
        ):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nudge_integrations":
                    names.add(alias.asname or alias.name.split(".")[0])
    return names


def private_reads(source: str) -> list[tuple[int, str]]:
    """(line, expression) of every read of a private attribute of an object that is not
    ours: ``x._name`` and ``getattr(x, "_name", ...)`` (also hasattr/setattr/delattr)."""
    tree = ast.parse(source)
    ours = _ours(tree)

    def foreign(obj: ast.expr) -> bool:
        if isinstance(obj, ast.Name):
            return obj.id not in ours
        is_super = (
            isinstance(obj, ast.Call) and isinstance(obj.func, ast.Name) and obj.func.id == "super"
        )
        return not is_super

    def getattr_private(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and foreign(node.args[0])
        )

    found = [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.expr)
        and (
            (isinstance(node, ast.Attribute) and _private(node.attr) and foreign(node.value))
            or getattr_private(node)
        )
    ]
    return sorted(found)


def test_the_scan_finds_private_reads() -> None:
    """The scan itself: what it must report and what it must leave alone."""
    source = """
import os
from nudge_integrations.core import ids as our_ids
from . import sibling
import chromadb

def f(self, store, retriever):
    a = store._collection               # a third-party store's internals
    b = retriever._index.index_struct   # inside a chain
    c = getattr(retriever, "_nodes", None)
    d = self._store._client             # our attribute holds someone else's object
    e = chromadb._internal
    ok = (self._x, our_ids._helper, sibling._y, super()._check(), store.__class__)
    ok2 = getattr(self, "_z", None), getattr(store, "__name__", "")
"""
    assert [expr for _, expr in private_reads(source)] == [
        "store._collection",
        "retriever._index",
        "getattr(retriever, '_nodes', None)",
        "self._store._client",
        "chromadb._internal",
    ]


def test_private_third_party_reads_only_in_compat() -> None:
    """Every read of a third-party object's private attribute goes through compat, where
    its versions are named: a framework release that renames one breaks one function."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if COMPAT in path.parents:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        for line, expr in private_reads(path.read_text(encoding="utf-8")):
            if (rel, expr) not in ALLOWED:
                problems.append(f"nudge_integrations/{rel}:{line}: {expr}")
    assert not problems, (
        "private attributes of third-party objects read outside nudge_integrations/compat/ "
        "(add a function there, with the versions checked, and call it):\n" + "\n".join(problems)
    )


def test_allow_list_is_current() -> None:
    """Every allowed read still exists (a stale entry would hide a new read of that name)."""
    for rel, expr in ALLOWED:
        reads = private_reads((PACKAGE / rel).read_text(encoding="utf-8"))
        assert expr in {e for _, e in reads}, f"{rel}: {expr} is no longer read; drop it"


COMPAT_MODULES = sorted(
    f"nudge_integrations.compat.{p.stem}" for p in COMPAT.glob("*.py") if p.stem != "__init__"
)


@pytest.mark.parametrize("name", COMPAT_MODULES)
def test_compat_functions_name_their_versions(name: str) -> None:
    """Each compat function's docstring says which package versions it was checked
    against (``Checked: <package> <version>``)."""
    module = importlib.import_module(name)
    functions = [
        fn
        for fn_name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == name and not fn_name.startswith("_")
    ]
    assert functions, f"{name} defines no function"
    missing = [fn.__name__ for fn in functions if not _VERSION.search(fn.__doc__ or "")]
    assert not missing, f"{name}: no 'Checked: <package> <version>' in the docstring of {missing}"
