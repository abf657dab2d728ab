"""The ledgered lifecycle on a tiny store that refuses any request over its limits (3 ids
a read, 2 records a write): a failure injected at every request of a swap, a second swap,
a partial and a full revert of 11 records leaves the store bit for bit as it was, markers
included; a failure of the rollback too leaves a ledger that ``finish()`` or
``rollback()`` (on a fresh ledger object, as a new process) resolves, and so does a
failure of that finish or rollback. At every point a record holding a nudged vector
carries its ledger's marker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger, text_hash

from .tiny import KINDS, InjectedError, TinyStore

DIM = 4
Vecs = dict[str, np.ndarray]


def first_fit(base: Vecs) -> Vecs:
    return {f"r{i}": base[f"r{i}"] + np.float32(0.5) for i in range(11)}


def second_fit(base: Vecs) -> Vecs:
    """Keeps r4, r5 as the first fit has them, moves r6-r12 otherwise; r0-r3 go back."""
    first = first_fit(base)
    out = {i: first[i] for i in ("r4", "r5")}
    out |= {f"r{i}": base[f"r{i}"] + np.float32(0.25) for i in range(6, 13)}
    return out


def swap(store: TinyStore, path: Path, fit: Vecs, base: Vecs, **kw: Any) -> Any:
    return lifecycle.swap(
        store,
        NudgeLedger(path),
        fit,
        {i: base[i] for i in fit},
        {i: text_hash(store.text[i]) for i in fit},
        variant="N",
        gamma=0.1,
        model="m",
        dim=DIM,
        texts=store.texts,
        **kw,
    )


@dataclass
class Scenario:
    """An operation under test, after a setup run without failures."""

    name: str
    setup: Callable[[TinyStore, Path, Vecs], None]
    op: Callable[[TinyStore, Path, Vecs], Any]
    #: every fit's vectors that this scenario writes (to tell nudged records)
    fits: Callable[[Vecs], list[Vecs]]


def _nothing(store: TinyStore, path: Path, base: Vecs) -> None:
    pass


def _first(store: TinyStore, path: Path, base: Vecs) -> None:
    swap(store, path, first_fit(base), base)


def _first_then_lose_a_marker(store: TinyStore, path: Path, base: Vecs) -> None:
    swap(store, path, first_fit(base), base)
    store.marks.pop("r5")  # r5 keeps its nudge: the second swap marks it, writing no vector


SCENARIOS = [
    Scenario(
        "swap", _nothing, lambda s, p, b: swap(s, p, first_fit(b), b), lambda b: [first_fit(b)]
    ),
    Scenario(
        "second swap",
        _first_then_lose_a_marker,
        lambda s, p, b: swap(s, p, second_fit(b), b),
        lambda b: [first_fit(b), second_fit(b)],
    ),
    Scenario(
        "partial revert",
        _first,
        lambda s, p, b: lifecycle.revert(s, NudgeLedger(p), ["r1", "r2", "r9"], texts=s.texts),
        lambda b: [first_fit(b)],
    ),
    Scenario(
        "revert",
        _first,
        lambda s, p, b: lifecycle.revert(s, NudgeLedger(p), texts=s.texts),
        lambda b: [first_fit(b)],
    ),
]
IDS = [s.name for s in SCENARIOS]

State = tuple[dict[str, bytes], dict[str, str]]


def state(store: TinyStore, path: Path) -> State:
    """The store's vectors (bytes) and markers, this run's ledger path written "ours"."""
    vectors, marks = store.state()
    ours = str(NudgeLedger(path).path)
    return vectors, {i: "ours" if v == ours else v for i, v in marks.items()}


def prepared(scenario: Scenario, root: Path) -> tuple[TinyStore, Path, Vecs, State]:
    """A fresh store after the scenario's setup: (store, ledger path, base, its state)."""
    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    root.mkdir(parents=True)
    path = root / "ledger"
    scenario.setup(store, path, base)
    store.counts.clear()
    return store, path, base, state(store, path)


def reference(scenario: Scenario, root: Path) -> tuple[State, dict[str, int]]:
    """The state after the operation without failures, and how many requests it made."""
    store, path, base, _ = prepared(scenario, root)
    scenario.op(store, path, base)
    return state(store, path), dict(store.counts)


def assert_marked_when_nudged(
    store: TinyStore, path: Path, fits: list[Vecs], before: State
) -> None:
    """A record the operation touched that holds one of the fits' nudged vectors carries
    the ledger's marker (the setup of "second swap" leaves r5 nudged without one)."""
    now = state(store, path)
    for i, v in store.vectors.items():
        touched = (now[0][i], now[1].get(i)) != (before[0][i], before[1].get(i))
        if touched and any(i in f and np.array_equal(v, f[i]) for f in fits):
            assert now[1].get(i) == "ours", f"{i} holds a nudged vector but no marker"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_without_failures_every_request_is_within_the_limits(
    scenario: Scenario, tmp_path: Path
) -> None:
    after, counts = reference(scenario, tmp_path / "ref")
    assert counts["write"] and counts["read"] and counts["read_markers"] and counts["texts"]
    store, path, base, _ = prepared(scenario, tmp_path / "check")
    scenario.op(store, path, base)
    vectors, marks = after
    nudged = {i for f in scenario.fits(base) for i in f if vectors[i] == f[i].tobytes()}
    assert set(marks) == nudged and set(marks.values()) <= {"ours"}
    for i, v in vectors.items():
        assert i in nudged or v == base[i].tobytes(), i
    st = lifecycle.status(store, NudgeLedger(path), texts=store.texts)
    assert st.state == ("base" if scenario.name == "revert" else "nudged")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_a_failure_at_any_request_leaves_the_store_as_it_was(
    scenario: Scenario, kind: str, tmp_path: Path
) -> None:
    after, counts = reference(scenario, tmp_path / "ref")
    for k in range(1, counts.get(kind, 0) + 1):
        store, path, base, before = prepared(scenario, tmp_path / f"{kind}-{k}")
        store.fail = {kind: {k}}
        with pytest.raises(InjectedError):
            scenario.op(store, path, base)
        store.fail = {}
        where = f"{scenario.name}: {kind} request {k}"
        assert state(store, path) == before, where  # rolled back, markers included
        assert NudgeLedger(path).op is None, where
        scenario.op(store, path, base)  # nothing left behind blocks doing it again
        assert state(store, path) == after, where


def _half_swapped(
    scenario: Scenario, root: Path, k: int, gap: int
) -> tuple[TinyStore, Path, Vecs, State] | None:
    """The store after the operation's ``k``-th write failed and the rollback's write
    ``gap`` later failed too; None when the rollback made fewer writes and succeeded."""
    store, path, base, before = prepared(scenario, root)
    store.fail = {"mutation": {k, k + gap}}
    try:
        scenario.op(store, path, base)
    except InjectedError:  # the rollback made fewer than ``gap`` writes: rolled back
        assert state(store, path) == before
        return None
    except LedgerError as exc:
        assert "rolling back failed too" in str(exc)
    else:
        raise AssertionError("the injected failure did not surface")
    store.fail = {}
    store.counts.clear()
    assert_marked_when_nudged(store, path, scenario.fits(base), before)
    return store, path, base, before


@pytest.mark.parametrize("action", ["finish", "rollback"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_a_failed_rollback_is_resolved_from_a_new_ledger_object(
    scenario: Scenario, action: str, tmp_path: Path
) -> None:
    after, counts = reference(scenario, tmp_path / "ref")
    resolved = 0
    for k in range(1, counts["mutation"] + 1):
        for gap in (1, 2):
            got = _half_swapped(scenario, tmp_path / f"{k}-{gap}", k, gap)
            if got is None:
                continue
            store, path, base, before = got
            ledger = NudgeLedger(path)  # as a new process reads it
            st = lifecycle.status(store, ledger, texts=store.texts)
            assert st.state == "half-swapped" and "rolling back failed" in (st.operation or "")
            assert "finish() completes it, rollback()" in (st.note or "")
            with pytest.raises(LedgerError, match="half-swapped"):
                swap(store, path, first_fit(base), base)  # refused until resolved
            getattr(lifecycle, action)(store, NudgeLedger(path), texts=store.texts)
            want = after if action == "finish" else before
            assert state(store, path) == want, f"{scenario.name}: writes {k}, {k + gap}"
            assert NudgeLedger(path).op is None
            resolved += 1
    assert resolved  # some rollback did fail


@pytest.mark.parametrize("action", ["finish", "rollback"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_a_failed_finish_or_rollback_keeps_the_operation_for_another_try(
    scenario: Scenario, action: str, tmp_path: Path
) -> None:
    after, counts = reference(scenario, tmp_path / "ref")
    k = counts["mutation"] // 2 + 1  # the operation fails half-way, its rollback at once
    got = _half_swapped(scenario, tmp_path / "clean", k, 1)
    assert got is not None
    store, path, _, _ = got
    getattr(lifecycle, action)(store, NudgeLedger(path), texts=store.texts)
    writes = store.counts["mutation"]
    assert writes
    for m in range(1, writes + 1):
        store, path, base, before = _half_swapped(scenario, tmp_path / f"{m}", k, 1) or got
        store.fail = {"mutation": {m}}
        with pytest.raises(InjectedError) as info:
            getattr(lifecycle, action)(store, NudgeLedger(path), texts=store.texts)
        assert any("call finish() or rollback() again" in n for n in info.value.__notes__)
        store.fail = {}
        assert NudgeLedger(path).op is not None  # still named, for another try
        assert_marked_when_nudged(store, path, scenario.fits(base), before)
        other = "rollback" if action == "finish" else "finish"
        getattr(lifecycle, other)(store, NudgeLedger(path), texts=store.texts)
        assert state(store, path) == (after if other == "finish" else before), f"write {m}"


def test_batch_size_cuts_the_ledgered_batches(tmp_path: Path) -> None:
    store = TinyStore()
    base = {i: v.copy() for i, v in store.vectors.items()}
    swap(store, tmp_path / "a", first_fit(base), base, batch_size=1)
    assert store.counts["write"] == 11 and store.counts["write_markers"] == 11
    store.counts.clear()
    lifecycle.revert(store, NudgeLedger(tmp_path / "a"), batch_size=1)
    assert store.counts["write"] == 11
    assert state(store, tmp_path / "a") == ({i: v.tobytes() for i, v in base.items()}, {})
    with pytest.raises(Exception, match="batch_size must be a positive"):
        swap(store, tmp_path / "a", first_fit(base), base, batch_size=0)
