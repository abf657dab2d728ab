"""The documentation site builds under ``mkdocs build --strict`` (broken links, missing
pages and docstring warnings fail it) and its API pages document the public classes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .optional import need

need("mkdocs")
need("mkdocstrings")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    llama = (site / "api" / "llama-index" / "index.html").read_text()
    langchain = (site / "api" / "langchain" / "index.html").read_text()
    assert "nudge_integrations.llama_index.NudgeFinetuneEngine" in llama
    assert "nudge_integrations.langchain.NudgeFitter" in langchain
    core = (site / "api" / "core" / "index.html").read_text()
    # the estimators show their parameters and public return types, and a page named in
    # a docstring is a link to it
    nudge_n = re.sub(r"<[^>]+>", "", core.split('id="nudge_integrations.core.NudgeN"')[1])
    signature = nudge_n[: nudge_n.index(")")]
    for name in ("refine: bool", "gamma: float", "metric: str", "refit_with_validation: bool"):
        assert name in signature, name
    assert "_Nudge" not in core
    assert '<a href="../../paper-comparison/">docs/paper-comparison.md</a>' in core
    cli = (site / "cli" / "index.html").read_text()
    assert "usage: nudge finetune" in cli  # the help text the build hook inserts
    assert "nudge-help:" not in cli
