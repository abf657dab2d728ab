"""The nudge ledger, framework-free: a dict-backed store, the real ledger folder on disk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.base import Limits
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger, text_hash

DIM = 8


class DictStore:
    """A store of vectors and texts by id; ``fail_on`` makes the n-th write raise."""

    similarity: str | None = "dot"
    limits = Limits()

    def __init__(self, n: int = 30, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = {f"d{i}": rng.normal(size=DIM).astype(np.float32) for i in range(n)}
        self.text = {i: f"text of {i}" for i in self.vectors}
        self.writes = 0
        self.fail_on: set[int] = set()

    def all_ids(self) -> list[str]:
        return list(self.vectors)

    def read(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self.vectors[i].copy() for i in ids if i in self.vectors}

    def write(self, vectors: Mapping[str, np.ndarray]) -> None:
        self.writes += 1
        if self.writes in self.fail_on:
            raise RuntimeError(f"write {self.writes} failed")
        for i, v in vectors.items():
            self.vectors[i] = np.asarray(v, np.float32).copy()

    def texts(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: self.text[i] for i in ids if i in self.text}


def nudge(store: DictStore, ids: Sequence[str], shift: float) -> dict[str, np.ndarray]:
    return {i: store.vectors[i] + np.float32(shift) for i in ids}


def do_swap(
    store: DictStore,
    ledger: NudgeLedger,
    nudged: dict[str, np.ndarray],
    base: dict[str, np.ndarray],
    batch: int = 3,
) -> lifecycle.SwapReport:
    hashes = {i: text_hash(store.text.get(i, "")) for i in nudged}
    return lifecycle.swap(
        store,
        ledger,
        nudged,
        base,
        hashes,
        variant="N",
        gamma=0.1,
        model="m",
        dim=DIM,
        texts=store.texts,
        batch_size=batch,
    )


def test_swap_then_revert_from_a_fresh_ledger_object_is_bit_exact(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:10]
    report = do_swap(store, NudgeLedger(tmp_path / "l"), nudge(store, ids, 0.5), base)
    assert sorted(report) == sorted(ids)
    reopened = NudgeLedger(tmp_path / "l")  # as a new process would
    st = lifecycle.status(store, reopened, texts=store.texts)
    assert st.state == "nudged" and sorted(st.nudged) == sorted(ids)
    assert "nudged" in str(st)
    back = lifecycle.revert(store, reopened, texts=store.texts)
    assert sorted(back.restored) == sorted(ids)
    for i, v in base.items():
        np.testing.assert_array_equal(store.vectors[i], v)
    assert lifecycle.status(store, NudgeLedger(tmp_path / "l")).state == "base"


def test_second_fit_takes_base_from_the_ledger_and_never_compounds(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudge(store, store.all_ids()[:10], 0.5), base)
    # a second fit reads the store (now nudged): the ledger gives the base back
    seen = store.read(store.all_ids())
    texts = {i: store.text[i] for i in seen}
    restored = lifecycle.base_from_ledger(NudgeLedger(tmp_path / "l"), seen, texts)
    assert sorted(restored) == sorted(store.all_ids()[:10])
    for i, v in seen.items():
        np.testing.assert_array_equal(v, base[i])
    # the second fit moves other records: the first fit's records get their base back
    second = {i: base[i] + np.float32(0.25) for i in store.all_ids()[5:15]}
    report = do_swap(store, NudgeLedger(tmp_path / "l"), second, seen)
    assert sorted(report.restored) == sorted(store.all_ids()[:5])
    for i in store.all_ids():
        np.testing.assert_array_equal(store.vectors[i], second.get(i, base[i]))
    lifecycle.revert(store, NudgeLedger(tmp_path / "l"))
    for i, v in base.items():
        np.testing.assert_array_equal(store.vectors[i], v)


def test_changed_text_is_skipped_and_reported_by_swap_revert_and_reapply(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:6]
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudge(store, ids, 0.5), base)
    store.text["d0"] = "a new text"  # re-added with new text and a fresh embedding
    fresh = np.ones(DIM, np.float32)
    store.vectors["d0"] = fresh
    report = lifecycle.revert(store, ledger, texts=store.texts)
    assert report.changed == ["d0"] and "d0" not in report.restored
    np.testing.assert_array_equal(store.vectors["d0"], fresh)  # not the old text's base
    again = lifecycle.reapply(store, ledger, texts=store.texts) if ledger.active else None
    assert again is None  # a full revert leaves no fit to reapply
    with pytest.raises(LedgerError, match="no fit swapped in"):
        lifecycle.reapply(store, ledger)
    # a swap whose fit saw the old text skips the record too
    old = {"d0": text_hash("text of d0"), "d1": text_hash("text of d1")}
    report = lifecycle.swap(
        store,
        ledger,
        {"d0": base["d0"] + 1, "d1": base["d1"] + 1},
        base,
        old,
        variant="N",
        gamma=0.1,
        model="m",
        dim=DIM,
        texts=store.texts,
    )
    assert report.changed == ["d0"] and report.written == ["d1"]
    np.testing.assert_array_equal(store.vectors["d0"], fresh)
    np.testing.assert_array_equal(store.vectors["d1"], base["d1"] + 1)


def test_a_failed_write_rolls_back_and_says_so(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    store.fail_on = {3}
    with pytest.raises(RuntimeError, match="write 3 failed") as info:
        do_swap(store, NudgeLedger(tmp_path / "l"), nudge(store, store.all_ids()[:12], 0.5), base)
    assert any("rolled back" in n for n in getattr(info.value, "__notes__", []))
    for i, v in base.items():
        np.testing.assert_array_equal(store.vectors[i], v)
    assert NudgeLedger(tmp_path / "l").op is None


def test_a_failed_rollback_leaves_the_ledger_saying_how_to_finish(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:12]
    nudged = nudge(store, ids, 0.5)
    store.fail_on = {3, 4}  # the swap's third batch, then the rollback's first write
    with pytest.raises(LedgerError, match=r"rolling back failed too.*finish\(\).*rollback\(\)"):
        do_swap(store, NudgeLedger(tmp_path / "l"), nudged, base)
    reopened = NudgeLedger(tmp_path / "l")
    st = lifecycle.status(store, reopened, texts=store.texts)
    assert st.state == "half-swapped" and st.operation and "rolling back failed" in st.operation
    assert len(st.nudged) + len(st.base) == len(ids)
    with pytest.raises(LedgerError, match="half-swapped"):
        lifecycle.revert(store, reopened)  # refused until finished or rolled back
    report = lifecycle.finish(store, reopened, texts=store.texts)
    assert report.written
    for i in ids:
        np.testing.assert_array_equal(store.vectors[i], nudged[i])
    assert lifecycle.status(store, NudgeLedger(tmp_path / "l")).state == "nudged"


def test_rollback_of_an_interrupted_swap_restores_the_base(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    store.fail_on = {2, 3}
    with pytest.raises(LedgerError):
        do_swap(store, NudgeLedger(tmp_path / "l"), nudge(store, store.all_ids()[:12], 0.5), base)
    lifecycle.rollback(store, NudgeLedger(tmp_path / "l"))
    for i, v in base.items():
        np.testing.assert_array_equal(store.vectors[i], v)
    assert lifecycle.status(store, NudgeLedger(tmp_path / "l")).state == "base"


def test_partial_revert_and_missing_records(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:8]
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudge(store, ids, 0.5), base)
    lifecycle.revert(store, ledger, ["d0", "d1"])
    np.testing.assert_array_equal(store.vectors["d0"], base["d0"])
    assert not np.array_equal(store.vectors["d2"], base["d2"])
    assert lifecycle.status(store, NudgeLedger(tmp_path / "l")).state == "nudged"
    del store.vectors["d3"], store.text["d3"]  # deleted from the store meanwhile
    report = lifecycle.revert(store, NudgeLedger(tmp_path / "l"), texts=store.texts)
    assert report.missing == ["d3"]
    for i in ids:
        if i != "d3":
            np.testing.assert_array_equal(store.vectors[i], base[i])


def test_unreadable_ledgers_and_unknown_ids_are_named(tmp_path: Path) -> None:
    store = DictStore()
    with pytest.raises(LedgerError, match="no nudge ledger"):
        lifecycle.status(store, NudgeLedger(tmp_path / "none"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ledger.json").write_text("{not json")
    with pytest.raises(LedgerError, match="cannot be read"):
        NudgeLedger(tmp_path / "bad")
    base = store.read(store.all_ids())
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudge(store, ["d0"], 0.5), base)
    with pytest.raises(Exception, match="never nudged"):
        lifecycle.revert(store, ledger, ["d9"])
    with pytest.raises(Exception, match="not in the vector store"):
        do_swap(store, ledger, {"ghost": base["d0"]}, {"ghost": base["d0"]})


def test_a_fit_that_moves_nothing_gives_the_earlier_fit_its_base_back(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudge(store, store.all_ids()[:6], 0.5), base)
    report = do_swap(store, ledger, {}, base)  # gamma 0: nothing moved
    assert report.written == [] and sorted(report.restored) == sorted(store.all_ids()[:6])
    for i, v in base.items():
        np.testing.assert_array_equal(store.vectors[i], v)
    assert lifecycle.status(store, NudgeLedger(tmp_path / "l")).state == "base"


def test_rollback_restores_what_the_store_held_not_what_the_ledger_expected(
    tmp_path: Path,
) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudge(store, store.all_ids()[:8], 0.5), base)
    # the store goes back to an older copy (saved before the swap): the ledger is stale
    for i, v in base.items():
        store.vectors[i] = v.copy()
    st = lifecycle.status(store, NudgeLedger(tmp_path / "l"))
    assert st.state == "base" and st.note and "not in the store" in st.note
    store.fail_on = {store.writes + 2}
    second = {i: base[i] + np.float32(0.25) for i in store.all_ids()[4:12]}
    with pytest.raises(RuntimeError, match="failed"):
        do_swap(store, NudgeLedger(tmp_path / "l"), second, base)
    for i, v in base.items():  # base, as the store held; not the first fit's vectors
        np.testing.assert_array_equal(store.vectors[i], v)


def test_records_overwritten_by_a_reindex_are_reported_and_reapplied(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:6]
    nudged = nudge(store, ids, 0.5)
    ledger = NudgeLedger(tmp_path / "l")
    do_swap(store, ledger, nudged, base)
    store.vectors["d0"] = np.full(DIM, 0.3, np.float32)  # re-embedded by a re-index
    st = lifecycle.status(store, ledger, texts=store.texts)
    assert st.state == "overwritten" and st.overwritten == ["d0"] and "reapply" in (st.note or "")
    lifecycle.reapply(store, ledger, texts=store.texts)
    np.testing.assert_array_equal(store.vectors["d0"], nudged["d0"])
    assert lifecycle.status(store, ledger).state == "nudged"


def test_an_operation_named_by_an_older_ledger_is_finished_or_rolled_back(
    tmp_path: Path,
) -> None:
    """A ledger written before op.json existed kept the operation's ids in state.json."""
    import json

    for action in ("finish", "rollback"):
        store = DictStore()
        base = store.read(store.all_ids())
        nudged = nudge(store, store.all_ids()[:12], 0.5)
        store.fail_on = {2, 3}  # the swap's second batch, then the rollback's first write
        path = tmp_path / action
        with pytest.raises(LedgerError):
            do_swap(store, NudgeLedger(path), nudged, base)
        state = json.loads((path / "state.json").read_text())
        records = json.loads((path / "op.json").read_text())
        state["op"] = {k: v for k, v in state["op"].items() if k not in ("token", "batches")}
        state["op"]["ids"] = records["ids"]
        (path / "state.json").write_text(json.dumps(state))
        (path / "op.json").unlink()
        old = NudgeLedger(path)
        assert old.op is not None and old.op.legacy and old.op.ids == records["ids"]
        getattr(lifecycle, action)(store, old, texts=store.texts)
        want = nudged if action == "finish" else {}
        for i, v in base.items():
            np.testing.assert_array_equal(store.vectors[i], want.get(i, v))
        assert NudgeLedger(path).op is None
