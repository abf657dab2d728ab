"""The steps a case runs in new processes, with nothing but the store and its ledger:
``status``; ``kill`` (a fit reading the store, then its swap SIGKILLed before a random
vector write); ``rollback`` and ``finish`` (after a kill: each checked against what the store
must then hold; ``finish`` also reverts). Each prints one JSON line."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

from production.data import make
from production.fitting import (
    NUDGED_TOL,
    base_of,
    check,
    compare,
    fit,
    load_vectors,
    nudged,
    save_vectors,
)
from production.handle import Handle
from production.measure import Breakdown, peak_rss_gb, phase
from production.opening import embeddings, open_store


def kill_at(writer_class: type, call: int) -> None:
    """SIGKILL this process at the ``call``-th vector write request, before it is sent
    (after that batch's markers are set): a plain vector write (``_write``), or a store's
    combined vector-and-marker request (``_write_together``: Chroma, pgvector, Qdrant
    local mode), whichever the swap makes."""
    from nudge_integrations.stores.base import MarkedWriter

    count = {"n": 0}

    def wrap(name: str) -> None:
        real = getattr(writer_class, name)

        def request(self: Any, vectors: Any, *rest: Any) -> None:
            if vectors:
                count["n"] += 1
                if count["n"] == call:
                    os.kill(os.getpid(), signal.SIGKILL)
            real(self, vectors, *rest)

        setattr(writer_class, name, request)

    wrap("_write")
    if issubclass(writer_class, MarkedWriter):  # called where it writes together
        wrap("_write_together")


def run(step: str, kind: str, framework: str, root: Path, n: int, train: int, val: int,
        seed: int, kill_seed: int) -> dict[str, Any]:  # fmt: skip
    """One step; its findings (timings, checks) as a dict."""
    p = make(n, seed, train, val)
    out: dict[str, Any] = {"step": step}
    with phase(out, "open"):
        h = open_store(kind, framework, p, root, build=False)
    api = h.api()
    if step == "status":
        with phase(out, "status"):
            st = api.status(h.obj, ledger=h.ledger)
        out["state"] = st.state
    elif step == "kill":
        # the fit that reads the store: its time does not depend on how fast the store's
        # search is from a new process (a Qdrant local folder reopened is searched by
        # local mode itself, see the docs page); the vectors it swaps are saved for the
        # process that finishes the swap, and compared with the case's store-native fit
        with phase(out, "fit_reads_store"):
            fitted = fit(h, p, embeddings(framework, p), native=False)
        moved = nudged(fitted)
        save_vectors(root / "kill-nudged.npz", moved)
        out["same_fit_as_case"] = compare(moved, load_vectors(root / "nudged.npz"))
        writer = h.writer()
        batches = math.ceil(len(moved) / writer.limits.write)
        call = random.Random(kill_seed).randint(1, batches)
        out.update(batches=batches, killed_before_write=call)
        print(json.dumps(out), flush=True)
        kill_at(type(writer), call)
        fitted.swap_in(h.obj, ledger=h.ledger, batch_size=None, show_progress=False)
        h.save()
        out["not_killed"] = True
    else:
        out.update(_recover(step, h, p, root))
    out["peak_rss_gb"] = peak_rss_gb()
    h.close()
    return out


def _recover(step: str, h: Handle, p: Any, root: Path) -> dict[str, Any]:
    """After a kill: status, then rollback (checked at base) or finish (checked nudged,
    then reverted and checked at base), each timed with its breakdown."""
    api = h.api()
    expect = load_vectors(root / "kill-nudged.npz")  # what the killed swap was writing
    base = base_of(p, list(expect))
    out: dict[str, Any] = {}
    st = api.status(h.obj, ledger=h.ledger)
    out["status_after_kill"] = st.state
    out["operation"] = str(st.operation)
    timers = Breakdown(type(h.writer()))
    with phase(out, step):
        report = getattr(api, step)(h.obj, ledger=h.ledger, batch_size=None, show_progress=False)
    out[f"{step}_breakdown"] = timers.take(out[step]["seconds"])
    out[f"{step}_report"] = {"written": len(report.written), "restored": len(report.restored),
                             "unchanged": len(report.unchanged)}  # fmt: skip
    with phase(out, f"{step}_save"):
        h.save()
    if step == "rollback":
        out["check"] = check(h, p, base, h.tolerance, set())
        out["status_after"] = api.status(h.obj, ledger=h.ledger).state
        out["ok"] = out["check"]["ok"] and out["status_after"] == "base"
        timers.remove()
        return out
    out["check"] = check(h, p, expect, NUDGED_TOL + h.tolerance, set(expect))
    out["status_after"] = api.status(h.obj, ledger=h.ledger).state
    with phase(out, "revert"):
        api.revert(h.obj, ledger=h.ledger, batch_size=None, show_progress=False)
    out["revert_breakdown"] = timers.take(out["revert"]["seconds"])
    with phase(out, "revert_save"):
        h.save()
    out["revert_check"] = check(h, p, base, h.tolerance, set())
    out["ok"] = bool(out["check"]["ok"] and out["status_after"] == "nudged"
                     and out["revert_check"]["ok"])  # fmt: skip
    timers.remove()
    return out


def main(args: Any) -> None:
    t0 = time.perf_counter()
    kind, framework = args.case
    out = run(args.child, kind, framework, Path(args.root), args.n, args.train, args.val,
              args.seed, args.kill_seed)  # fmt: skip
    out["process_s"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(out), flush=True)
