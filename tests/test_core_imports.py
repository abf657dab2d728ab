"""Rule 1 of the architecture: the core imports no framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Run in a fresh interpreter: a meta-path finder refuses every import outside the standard
#: library, numpy, torch and the distributions they require (as if nothing else were
#: installed: torch's optional imports fail as they would there); then the core and each of
#: its modules are imported. Modules import pyarrow, matplotlib and the like only inside
#: the functions that need them.
ONLY_NUMPY_AND_TORCH = """
import importlib, pkgutil, re, sys
from importlib import metadata

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def requirements(dist):
    reqs = [r for r in metadata.requires(dist) or [] if "extra ==" not in r]
    return {norm(re.split(r"[\\s;<>=!~\\[(]", r, maxsplit=1)[0]) for r in reqs}

installed = {norm(d.metadata["Name"]) for d in metadata.distributions()}
need, todo = {"numpy", "torch"}, ["numpy", "torch"]
while todo:
    for req in requirements(todo.pop()) & installed - need:
        need.add(req)
        todo.append(req)
allowed = {
    module
    for module, dists in metadata.packages_distributions().items()
    if any(norm(d) in need for d in dists)
}
allowed |= set(sys.stdlib_module_names) | {m.partition(".")[0] for m in sys.modules}
allowed.add("nudge_integrations")
refused = []

class OnlyNumpyAndTorch:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in allowed:
            refused.append(name)
            raise ModuleNotFoundError(f"{name} is not installed (only numpy and torch are)")
        return None

sys.meta_path.insert(0, OnlyNumpyAndTorch())
import numpy, torch
refused.clear()  # torch's optional imports, refused as where they are not installed
import nudge_integrations.core
modules = sorted(
    info.name
    for info in pkgutil.walk_packages(nudge_integrations.core.__path__, "nudge_integrations.core.")
)
for name in modules:
    importlib.import_module(name)
above = sorted(
    m for m in sys.modules
    if m.startswith("nudge_integrations.") and not m.startswith("nudge_integrations.core")
)
assert not refused, f"the core tried to import {refused}"
assert not above, f"the core imported modules above it: {above}"
print(len(modules))
"""


def test_core_imports_without_frameworks() -> None:
    code = (
        "import sys; import nudge_integrations.core, nudge_integrations.core.search, "
        "nudge_integrations.core.metrics, nudge_integrations.data; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'llama_index', 'langchain', 'langchain_core', 'datasets', 'sentence_transformers'}]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_core_and_each_of_its_modules_import_with_only_numpy_and_torch() -> None:
    """No framework, store client, pyarrow, matplotlib or Ray is imported by ``import
    nudge_integrations.core`` or by any module of the core, nor any layer above it."""
    proc = subprocess.run(
        [sys.executable, "-c", ONLY_NUMPY_AND_TORCH], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(proc.stdout.split()[-1]) >= 20  # it did walk the core's modules
