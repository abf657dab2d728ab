"""Given ``.npy`` vectors are checked as loaded, before the train/val/test split: a NaN,
infinite or all-zero row is named by its file, its row in that file and its id (not by
its position inside a split), and exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nudge_integrations.cli import main

from .test_cli import files, vector_args  # noqa: F401


def _bad_copy(files: dict[str, Path], tmp_path: Path, name: str, row: int, value: float) -> Path:  # noqa: F811
    arr = np.load(files["root"] / f"{name}.npy")
    if value == 0.0:
        arr[row] = 0.0
    else:
        arr[row, 5] = value
    out = tmp_path / f"bad_{name}.npy"
    np.save(out, arr)
    return out


@pytest.mark.parametrize(
    ("name", "row", "value", "says"),
    [
        ("queries", 3, float("nan"), "contains NaN or infinity"),
        ("queries", 7, float("inf"), "contains NaN or infinity"),
        ("queries", 2, 0.0, "is an all-zero vector"),
        ("corpus", 4, float("nan"), "contains NaN or infinity"),
    ],
)
def test_a_bad_row_is_named_by_file_row_and_id(
    files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    row: int,
    value: float,
    says: str,
) -> None:
    bad = _bad_copy(files, tmp_path, name, row, value)
    args = vector_args(files)
    args[args.index(str(files["root"] / f"{name}.npy"))] = str(bad)
    ids = json.loads((files["root"] / f"{name}_ids.json").read_text())
    code = main(["finetune", str(files["beir"]), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    kind = "query" if name == "queries" else "corpus"
    assert f"{bad} row {row} ({kind} id {ids[row]!r})" in err and says in err, err
    assert not (tmp_path / "o").exists()


def test_a_bad_row_no_query_uses_is_not_an_error(
    files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rows of ids the QA data does not judge are never read, so they are not checked."""
    arr = np.load(files["root"] / "queries.npy")
    ids = json.loads((files["root"] / "queries_ids.json").read_text())
    np.save(tmp_path / "q.npy", np.vstack([arr, np.full((1, arr.shape[1]), np.nan, np.float32)]))
    (tmp_path / "q_ids.json").write_text(json.dumps([*ids, "not-judged"]))
    args = vector_args(files)
    args[5], args[7] = str(tmp_path / "q.npy"), str(tmp_path / "q_ids.json")
    code = main(["finetune", str(files["beir"]), *args, "--out", str(tmp_path / "o")])
    assert code == 0, capsys.readouterr().err
