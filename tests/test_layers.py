"""The package's import graph: no cycles, and arrows that run down the layers only.

The graph is grimp's (import-linter's graph library) over ``nudge_integrations``: every
``import`` statement counts, inside functions and under ``TYPE_CHECKING`` included, so a
cycle hidden in a function still fails here. An import of ``pkg.sub`` is an edge to
``pkg.sub`` only: like import-linter, the check ignores the implicit import of the parent
package's ``__init__`` that Python performs first; an explicit import of a package
(``from nudge_integrations.core import NudgeN``) is an edge to its ``__init__`` and counts.

Layers, lowest first (``[tool.importlinter]`` in pyproject.toml, checked by import-linter;
``|`` marks modules of one layer that must not import each other, ``:`` ones that may):

1. ``core`` | ``model_identity``: ``model_identity`` imports nothing from the package, so
   it sits at the bottom, beside the core, which may not import it (the core imports no
   top-level module: any such import would run the package root, which imports the core).
2. ``compat`` (optional until it exists) | ``embedding``: ``embedding`` imports only
   ``core.cache``, the lowest it can sit. The package root ``nudge_integrations/__init__``
   belongs here too (it re-exports core names); a package cannot be a layer of itself, so
   :func:`test_the_package_root_sits_just_above_the_core` checks it by hand.
3. ``data``; 4. ``stores``; 5. ``session``.
6. ``llama_index`` : ``langchain`` : ``ray_engine``, which never import each other (the
   independence contract).
7. ``cli`` : ``demo`` : ``demo_adapters`` (the CLI runs the demos, ``demo_adapters``
   builds on ``demo``).
8. ``__main__``, which imports ``cli``.

Rule 1 of docs/architecture (the core imports only numpy and torch) is checked at run time
in tests/test_core_imports.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

import grimp

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGE = "nudge_integrations"
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
#: What the package root (``nudge_integrations/__init__``) may import: the layers below it.
BELOW_ROOT = ("nudge_integrations.core", "nudge_integrations.model_identity")


def import_graph() -> grimp.ImportGraph:
    """The package's import graph, every import counted (grimp parses, nothing is run)."""
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=False, cache_dir=None)


# ------------------------------------------------------------------------- cycles
def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import cycles' modules: each strongly connected component of more than one module
    (or of one that imports itself), sorted (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.find_modules_directly_imported_by(nxt)))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1 or node in graph.find_modules_directly_imported_by(node):
                        found.append(sorted(members))
    return sorted(found)


def shortest_cycle(graph: grimp.ImportGraph, members: Iterable[str], start: str) -> list[str]:
    """The shortest chain of imports from ``start`` back to ``start`` within ``members``."""
    inside = set(members)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        later = []
        for node in frontier:
            for nxt in sorted(graph.find_modules_directly_imported_by(node) & inside):
                if nxt == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(previous[chain[-1]])
                    return [start, *reversed(chain[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    later.append(nxt)
        frontier = later
    raise AssertionError(f"{start} is on no cycle within {sorted(inside)}")


def describe_chain(graph: grimp.ImportGraph, chain: Sequence[str]) -> str:
    """``a -> b (l.3, 40) -> a (l.7)``: each import with the lines that make it."""
    parts = [chain[0]]
    for importer, imported in pairwise(chain):
        lines = sorted(
            {
                d["line_number"]
                for d in graph.get_import_details(importer=importer, imported=imported)
            }
        )
        at = f" (l.{', '.join(map(str, lines))})" if lines else ""
        parts.append(f"{imported}{at}")
    return " -> ".join(parts)


def describe_cycles(graph: grimp.ImportGraph, components: list[list[str]]) -> list[str]:
    """One readable chain per module of each cycle (the shortest through it), deduplicated."""
    out = []
    for members in components:
        seen: set[frozenset[tuple[str, str]]] = set()
        out.append(f"a cycle through {len(members)} modules: {', '.join(members)}")
        for start in members:
            chain = shortest_cycle(graph, members, start)
            edges = frozenset(pairwise(chain))
            if edges not in seen:
                seen.add(edges)
                out.append("  " + describe_chain(graph, chain))
    return out


def test_cycle_finder_reports_each_cycle_as_a_chain() -> None:
    """The check can fail: on a made-up graph it finds both cycles, and only them."""
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),
        ("p.c", "p.d"),  # out of the cycle
        ("p.e", "p.e"),  # imports itself
        ("p.f", "p.a"),
    ]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="")
    assert strongly_connected(graph) == [["p.a", "p.b", "p.c"], ["p.e"]]
    assert shortest_cycle(graph, ["p.a", "p.b", "p.c"], "p.b") == ["p.b", "p.c", "p.a", "p.b"]
    assert describe_chain(graph, ["p.a", "p.b", "p.c", "p.a"]) == (
        "p.a -> p.b (l.1) -> p.c (l.1) -> p.a (l.1)"
    )


def test_no_import_cycles() -> None:
    """No module reaches itself through its imports (inside functions and under
    TYPE_CHECKING too): each cycle is named as chains of imports with their lines."""
    graph = import_graph()
    components = strongly_connected(graph)
    assert not components, "import cycles in nudge_integrations:\n" + "\n".join(
        describe_cycles(graph, components)
    )


# ------------------------------------------------------------------------- layers
def _layer_modules(layer: str) -> list[str]:
    return [m.strip().strip("()") for m in layer.replace("|", ":").split(":")]


def test_every_top_level_module_has_a_layer() -> None:
    """A new top-level module or package fails here until pyproject.toml places it."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    placed = {m for layer in layers for m in _layer_modules(layer)}
    children = import_graph().find_children(PACKAGE)
    assert sorted(children - placed) == [], "modules with no layer in pyproject.toml"


def test_layer_contracts() -> None:
    """import-linter's contracts in pyproject.toml: arrows run down the layers only (direct
    or through other modules), and the adapters never import each other."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            str(PYPROJECT),
            "--no-cache",
            "--no-logo",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    broken = proc.stdout.find("Broken contracts")
    assert proc.returncode == 0, proc.stdout[max(0, broken) :] + proc.stderr


def test_the_package_root_sits_just_above_the_core() -> None:
    """``nudge_integrations/__init__`` imports only the bottom layer, and nothing in the
    bottom layer imports it, directly or through other modules."""
    graph = import_graph()

    def below_root(module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in BELOW_ROOT)

    up = graph.find_upstream_modules(PACKAGE, as_package=False)
    assert sorted(m for m in up if not below_root(m)) == [], "the package root imports these"
    down = graph.find_downstream_modules(PACKAGE, as_package=False)
    wrong = sorted(m for m in down if below_root(m))
    chains = [
        describe_chain(graph, graph.find_shortest_chain(importer=m, imported=PACKAGE) or [m])
        for m in wrong
    ]
    assert not wrong, "the bottom layer imports the package root:\n" + "\n".join(chains)
