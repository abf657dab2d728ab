"""One writer per store at a time: while another process holds a ledger's lock (a swap
running there), finish, rollback, swap and revert refuse at once instead of writing
beside it; the lock of a killed process is gone, so recovery starts at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger

from .tiny import TinyStore

HOLD = """
import fcntl, sys, time
from pathlib import Path
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
handle = open(folder / ".lock", "a+b")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_process_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store = TinyStore()
        for call in (lifecycle.rollback, lifecycle.finish, lifecycle.revert):
            with pytest.raises(LedgerError, match="another process is writing this store"):
                call(store, NudgeLedger(path))
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    # the killed holder's lock is gone: recovery runs (nothing pending here: a no-op)
    assert len(lifecycle.finish(TinyStore(), NudgeLedger(path))) == 0
