"""One (store, framework) case, in this process: build the store, fit it twice (reading
the store, then store-native), swap, status from a new process, revert (checked), the
store's own bulk update of the same vectors (forward and back, before the swap and after
the revert), then a kill -9 at a random batch of a swap and a rollback from a new process,
and again with a finish.

Findings go to ``out`` (and its JSON file) after every step, so a case stopped part-way
keeps what it measured. A step over ``STEP_LIMIT_S`` stops the case, recorded as such.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from production.data import make
from production.fitting import NUDGED_TOL, base_of, check, compare, fit, nudged, save_vectors
from production.limits import BUILD_LIMIT_S, STEP_LIMIT_S
from production.measure import Breakdown, peak_rss_gb, phase
from production.opening import EXCLUSIVE, Servers, embeddings, open_store
from production.own import own_update

SCRIPT = Path(__file__).resolve().parents[1] / "bench_stores_production.py"


class StepTimeoutError(Exception):
    """A step ran past ``STEP_LIMIT_S``."""


def _alarm(signum: int, frame: Any) -> None:
    raise StepTimeoutError("a step ran past its limit (STEP_LIMIT_S, BUILD_LIMIT_S for the build)")


class Case:
    """Runs the steps, writing ``out`` to ``json_path`` after each."""

    def __init__(self, args: Any, json_path: Path) -> None:
        self.args, self.json_path = args, json_path
        self.kind, self.framework = args.case
        self.root = Path(args.workdir) / f"{self.kind}-{self.framework}-{args.n}"
        self.out: dict[str, Any] = {"store": self.kind, "framework": self.framework,
                                    "n": args.n, "status": "running"}  # fmt: skip

    def dump(self) -> None:
        self.json_path.write_text(json.dumps(self.out, indent=1, default=str) + "\n")

    def child(self, step: str, kill_seed: int = 0) -> dict[str, Any]:
        """Run ``step`` in a new process; its JSON (the last line), return code and time."""
        a = self.args
        cmd = [sys.executable, str(SCRIPT), "--child", step, "--case", self.kind,
               self.framework, "--root", str(self.root), "--n", str(a.n), "--train",
               str(a.train), "--val", str(a.val), "--seed", str(a.seed), "--kill-seed",
               str(kill_seed)]  # fmt: skip
        t0 = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_LIMIT_S)
        except subprocess.TimeoutExpired:
            raise StepTimeoutError(f"child {step} ran past {STEP_LIMIT_S} s") from None
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        got: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        got.update(returncode=done.returncode, wall_s=round(time.perf_counter() - t0, 3))
        if done.returncode not in (0, -9):
            got["stderr_tail"] = done.stderr[-3000:]
        return got

    def run(self) -> None:
        signal.signal(signal.SIGALRM, _alarm)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        os.environ["NUDGE_LEDGER_DIR"] = str(self.root / "ledgers")
        servers = Servers(self.kind)
        try:
            self.steps()
            self.out["status"] = "done"
        except StepTimeoutError as exc:
            self.out["status"] = f"stopped: {exc}"
        except Exception as exc:  # recorded, with what was measured before it
            import traceback

            self.out["status"] = f"failed: {type(exc).__name__}: {exc}"[:2000]
            self.out["traceback"] = traceback.format_exc()[-4000:]
        finally:
            signal.alarm(0)
            self.out["peak_rss_gb"] = peak_rss_gb()
            self.dump()
            servers.stop()
            if not self.args.keep:
                shutil.rmtree(self.root, ignore_errors=True)

    def step(self, name: str, limit_s: int = STEP_LIMIT_S) -> Any:
        """A timed step (alarm armed), its findings dumped after it."""
        signal.alarm(limit_s)
        self.dump()
        return phase(self.out, name)

    def steps(self) -> None:
        a, out = self.args, self.out
        p = make(a.n, a.seed, a.train, a.val)
        out["problem"] = {"n": a.n, "dim": p.base.shape[1], "train_questions": len(p.train),
                          "val_questions": len(p.val), "named_records": len(p.named)}  # fmt: skip
        with self.step("build", BUILD_LIMIT_S):
            h = open_store(self.kind, self.framework, p, self.root, build=True)
            h.save()
        out["settings"] = h.notes
        writer = h.writer()
        out["writer"] = {"class": type(writer).__name__, "limits": vars(writer.limits),
                         "exact": getattr(writer, "exact", None)}  # fmt: skip
        emb = embeddings(self.framework, p)
        with self.step("fit_reads_store"):
            first = fit(h, p, emb, native=False)
        moved_a = nudged(first)
        out["fit_reads_store_result"] = {"gamma": first.gamma_, "moved": len(moved_a)}
        if a.repro:  # the reproduction: swap this fit, revert, check
            self.swap_revert(h, p, first, moved_a)
            return
        try:
            if self.kind in a.no_native:
                raise StepTimeoutError("skipped (--no-native): it ran past the step limit before")
            with self.step("native_fit"):
                native = fit(h, p, emb, native=True)
        except StepTimeoutError as exc:  # recorded; the swap goes on with the first fit
            signal.alarm(0)
            out.setdefault("native_fit", {})["stopped"] = str(exc)
            out["native_fit_result"] = {"stopped": str(exc), "swapped": "the fit reading the store"}
            native = first
        moved = nudged(native)
        if native is not first:
            out["native_fit_result"] = {
                "gamma": native.gamma_, "moved": len(moved),
                "index_recall": native.index_recall_, "vs_fit_reads_store": compare(moved, moved_a),
            }  # fmt: skip
        del first, moved_a
        save_vectors(self.root / "nudged.npz", moved)
        # the store's own update before the swap too: a store may still be settling after
        # its build (Chroma indexes its log), which the first writes would otherwise pay
        self.own(h, p, moved, "own_before")
        h = self.swap_revert(h, p, native, moved)
        self.own(h, p, moved, "own_update")
        h.close()
        self.kills()

    def swap_revert(self, h: Any, p: Any, fitted: Any, moved: dict[str, Any]) -> Any:
        """Swap (timed, broken down), status from a new process, revert (timed, checked)."""
        out = self.out
        timers = Breakdown(type(h.writer()))
        with self.step("swap"):
            report = fitted.swap_in(h.obj, ledger=h.ledger, batch_size=None, show_progress=False)
        out["swap_breakdown"] = timers.take(out["swap"]["seconds"])
        out["swap_report"] = {"written": len(report.written), "unchanged": len(report.unchanged)}
        with self.step("swap_save"):
            h.save()
        out["swap_check"] = check(h, p, moved, NUDGED_TOL + h.tolerance, set(moved))
        if not self.args.repro:
            if self.kind in EXCLUSIVE:
                h.close()
            signal.alarm(STEP_LIMIT_S)
            out["status_new_process"] = self.child("status")
            if self.kind in EXCLUSIVE:
                with self.step("reopen"):
                    h = open_store(self.kind, self.framework, p, self.root, build=False)
        h.writer().read(list(moved)[:10])  # warm: the revert is timed, not the first touch
        timers.take(0.0)  # drop the checks' and the warm-up's requests
        with self.step("revert"):
            back = h.api().revert(h.obj, ledger=h.ledger, batch_size=None, show_progress=False)
        out["revert_breakdown"] = timers.take(out["revert"]["seconds"])
        out["revert_report"] = {"restored": len(back.restored), "unchanged": len(back.unchanged)}
        with self.step("revert_save"):
            h.save()
        out["revert_check"] = check(h, p, base_of(p, list(moved)), h.tolerance, set())
        timers.remove()
        return h

    def own(self, h: Any, p: Any, moved: dict[str, Any], name: str) -> None:
        """The store's own bulk update of the same vectors, forward (``name``) then back
        (``name``_back)."""
        out, ids = self.out, list(moved)
        size, update = own_update(h.writer(), self.kind)
        rows = {name: moved, f"{name}_back": base_of(p, ids)}
        for name, vectors in rows.items():
            matrix = __import__("numpy").stack([vectors[i] for i in ids])
            with self.step(name):
                requests = update(ids, matrix)
            with self.step(f"{name}_save"):
                h.save()
            out[name]["requests"], out[name]["request_size"] = requests, size
            out[name]["method"] = getattr(update, "method", None)
        out[f"{name}_back_check"] = check(h, p, base_of(p, ids), h.tolerance, None)

    def kills(self) -> None:
        """kill -9 mid-swap, rollback from a new process; again, finish from a new process."""
        seed = self.args.seed
        for n, recover in enumerate(("rollback", "finish"), start=1):
            signal.alarm(0)
            killed = self.child("kill", kill_seed=seed * 1000 + n)
            self.out[f"kill_{n}"] = killed
            self.dump()
            if killed["returncode"] != -9:
                raise RuntimeError(f"the swap to kill was not killed: {killed}")
            self.out[f"{recover}_after_kill"] = self.child(recover)
            self.dump()


def main(args: Any) -> None:
    """Run the case named by ``args.case``; findings to ``args.case_json``."""
    Case(args, Path(args.case_json)).run()
