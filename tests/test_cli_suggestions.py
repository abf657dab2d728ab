"""The CLI names the nearest option for a misspelt one (argparse on Python < 3.14 does
not), and its never-nudged hint speaks of ``--ledger``, not the Python keyword."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nudge_integrations.cli import main

from .optional import need


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["finetune", "data", "--vairant", "M"],
            "unrecognized arguments: --vairant M; did you mean --variant?",
        ),
        (["status", "--store", "x", "--ledgr", "y"], "did you mean --ledger?"),
        (["revert", "--store", "x", "--batch_size=3"], "did you mean --batch-size?"),
        (["evaluate", "data", "--nuged", "out"], "did you mean --nudged?"),
    ],
)
def test_a_misspelt_option_names_the_nearest(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_an_option_with_no_near_one_gets_no_guess(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["finetune", "data", "--zzzzzz"])
    assert "did you mean" not in capsys.readouterr().err


def test_status_of_a_never_nudged_store_says_ledger_as_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    faiss = need("faiss")
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    index = faiss.IndexFlatIP(4)
    index.add(np.eye(3, 4, dtype=np.float32))
    faiss.write_index(index, str(tmp_path / "index.faiss"))
    (tmp_path / "ids.json").write_text(json.dumps(["a", "b", "c"]))
    spec = f"faiss:{tmp_path / 'index.faiss'}:{tmp_path / 'ids.json'}"
    assert main(["status", "--store", spec]) == 0
    out = capsys.readouterr().out
    assert "--ledger PATH" in out and "ledger=..." not in out
