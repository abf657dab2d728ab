"""A parquet append SIGKILLed partway is all or nothing: the folder opens with its old
records, and rerunning the append succeeds and equals a clean one.

The killed writer is this module run as a script:
``python -m tests.faults.test_parquet_append_kill FOLDER WHEN`` appends ``EXTRA`` records
to FOLDER and SIGKILLs itself, ``WHEN`` = ``writing``: once the first new part is complete
(asked for the block after it), or ``renaming``: at the second part's rename into place.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

pytest.importorskip("pyarrow.parquet")

from nudge_integrations.core.shard_writer import write_shards
from nudge_integrations.core.shards import ShardedCorpus

ROOT = Path(__file__).resolve().parents[2]
D, OLD, EXTRA, PART = 16, 2_000, 5_000, 1_000


def _vectors(n: int, seed: int) -> NDArray[np.float32]:
    return np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)


def _new_ids() -> list[str]:
    return [f"new-{i}" for i in range(EXTRA)]


def _blocks(kill_after: int | None) -> Iterator[NDArray[np.float32]]:
    """The new records in blocks of ``PART`` rows; SIGKILL when asked for block
    ``kill_after`` (so the parts before it are complete)."""
    vec = _vectors(EXTRA, 1)
    for n, start in enumerate(range(0, EXTRA, PART)):
        if n == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        yield vec[start : start + PART]


def _append(folder: Path, kill_after: int | None = None) -> ShardedCorpus:
    return write_shards(
        _blocks(kill_after), _new_ids(), folder, rows_per_shard=PART, format="parquet"
    )


def _table(corpus: ShardedCorpus) -> tuple[list[str], NDArray[np.float32]]:
    rows = np.arange(len(corpus))
    return corpus.ids_at(rows), corpus.rows(rows)


def _main(folder: Path, when: str) -> None:
    if when == "writing":
        _append(folder, kill_after=2)
    else:
        real, seen = os.replace, []

        def replace(src: Any, dst: Any) -> None:
            if Path(src).name.startswith(".part-"):
                seen.append(src)
                if len(seen) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
            real(src, dst)

        os.replace = replace  # type: ignore[assignment]
        _append(folder)


@pytest.mark.parametrize("when", ["writing", pytest.param("renaming", marks=pytest.mark.slow)])
def test_a_killed_parquet_append_is_all_or_nothing_and_reruns(tmp_path: Path, when: str) -> None:
    old_ids = [f"old-{i}" for i in range(OLD)]
    folder, clean = tmp_path / "killed", tmp_path / "clean"
    for f in (folder, clean):
        write_shards(_vectors(OLD, 0), old_ids, f, rows_per_shard=PART, format="parquet")
    killed = subprocess.run(
        [sys.executable, "-m", "tests.faults.test_parquet_append_kill", str(folder), when],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, f"the append was not killed\n{killed.stderr[-3000:]}"
    left = sorted(p.name for p in folder.iterdir())
    assert len(left) > OLD // PART  # the killed append did leave files behind
    opened = ShardedCorpus.from_parquet(folder)
    assert len(opened) == OLD, left  # none of the partial append is read
    assert opened.ids_at([0, OLD - 1]) == ["old-0", f"old-{OLD - 1}"]

    rerun = _append(folder)
    expected = _append(clean)
    assert len(rerun) == len(expected) == OLD + EXTRA
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in clean.iterdir())
    got, want = _table(ShardedCorpus.from_parquet(folder)), _table(expected)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])


if __name__ == "__main__":
    _main(Path(sys.argv[1]), sys.argv[2])
