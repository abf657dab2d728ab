"""Rule 1 of the architecture: the core imports no framework."""

from __future__ import annotations

import subprocess
import sys


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
