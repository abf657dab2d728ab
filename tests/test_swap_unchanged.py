"""Swapping in a fit whose vectors the store already holds writes nothing, and the report
says so (``unchanged``, not ``written``); the ledger still names the new fit as active,
status reads ``nudged`` and revert restores bit for bit. Framework-free (a dict-backed
store, the real ledger folder), then through ``nudge finetune --store`` on a FAISS file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.cli import main
from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.ledger import NudgeLedger

from .test_cli import _faiss_store, _stored, files, vector_args  # noqa: F401
from .test_ledger import DictStore, do_swap, nudge


def test_the_same_fit_again_writes_nothing_and_says_so(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:10]
    fit = nudge(store, ids, 0.5)
    first = do_swap(store, NudgeLedger(tmp_path / "l"), fit, base)
    assert sorted(first.written) == sorted(ids) and first.unchanged == []
    writes, active = store.writes, NudgeLedger(tmp_path / "l").active

    again = do_swap(store, NudgeLedger(tmp_path / "l"), fit, base)
    assert store.writes == writes  # not one vector written
    assert again.written == [] and again.restored == [] and len(again) == 0
    assert sorted(again.unchanged) == sorted(ids) and again.skipped == []
    assert "written=0" in repr(again) and "unchanged=10" in repr(again)

    ledger = NudgeLedger(tmp_path / "l")  # as a new process reads it
    assert ledger.active is not None and ledger.active != active and ledger.op is None
    st = lifecycle.status(store, ledger, texts=store.texts)
    assert st.state == "nudged" and sorted(st.nudged) == sorted(ids)
    lifecycle.revert(store, ledger, texts=store.texts)
    for i, v in base.items():
        np.testing.assert_array_equal(store.vectors[i], v)


def test_a_fit_differing_in_some_records_writes_only_those(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:10]
    fit = nudge(store, ids, 0.5)
    do_swap(store, NudgeLedger(tmp_path / "l"), fit, base)
    # the next fit moves records 0-9 the same way but 8-9 differently, and 10-11 too;
    # records 0-1 it no longer moves go back to their base
    second = {i: fit[i] for i in ids[2:8]}
    second |= {i: base[i] + np.float32(0.25) for i in store.all_ids()[8:12]}
    report = do_swap(store, NudgeLedger(tmp_path / "l"), second, base)
    assert sorted(report.written) == sorted(store.all_ids()[8:12])
    assert sorted(report.restored) == sorted(ids[:2])
    assert sorted(report.unchanged) == sorted(ids[2:8])
    for i in store.all_ids():
        np.testing.assert_array_equal(store.vectors[i], second.get(i, base[i]))
    st = lifecycle.status(store, NudgeLedger(tmp_path / "l"), texts=store.texts)
    assert st.state == "nudged" and sorted(st.nudged) == sorted(second)


def test_revert_of_a_store_at_its_base_restores_nothing(tmp_path: Path) -> None:
    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:6]
    do_swap(store, NudgeLedger(tmp_path / "l"), nudge(store, ids, 0.5), base)
    lifecycle.revert(store, NudgeLedger(tmp_path / "l"))
    writes = store.writes
    again = lifecycle.revert(store, NudgeLedger(tmp_path / "l"))
    assert store.writes == writes and again.restored == []
    assert sorted(again.unchanged) == sorted(ids)


def test_cli_finetune_into_a_store_twice_reports_the_second_as_unchanged(
    files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = _faiss_store(tmp_path, files)
    before = _stored(spec)
    argv = ["finetune", str(files["qa"]), *vector_args(files), "--store", spec, "--json"]

    def run(out: str) -> dict[str, Any]:
        assert main([*argv, "--out", str(tmp_path / out)]) == 0
        summary: dict[str, Any] = json.loads(capsys.readouterr().out)
        return summary

    first, second = run("a"), run("b")
    assert first["store"]["written"] == first["moved"] > 0
    assert first["store"]["unchanged"] == 0
    assert second["store"]["written"] == 0 and second["store"]["restored"] == 0
    assert second["store"]["unchanged"] == second["moved"] == first["moved"]
    # and the human-readable line says the same
    assert main([*argv[:-1], "--out", str(tmp_path / "c")]) == 0
    assert "0 records nudged" in capsys.readouterr().out
    assert main(["status", "--store", spec]) == 0
    assert capsys.readouterr().out.startswith("nudged:")
    assert main(["revert", "--store", spec]) == 0
    for i, vec in _stored(spec).items():
        np.testing.assert_array_equal(vec, before[i])


def test_a_saved_fit_after_a_text_edit_counts_each_record_once(tmp_path: Path) -> None:
    """A fit made before a record's text changed, swapped in after a later fit renewed that
    record's base: the record gets its new base (restored, not also changed), and the
    revert that follows reports it unchanged, restoring only the records it rewrote."""
    from nudge_integrations.stores.ledger import text_hash

    from .test_ledger import DIM

    store = DictStore()
    base = store.read(store.all_ids())
    ids = store.all_ids()[:10]
    saved = nudge(store, ids, 0.5)
    saved_hashes = {i: text_hash(store.text[i]) for i in ids}
    do_swap(store, NudgeLedger(tmp_path / "l"), saved, base)
    store.text["d0"] = "an edited text"  # re-added with a fresh embedding
    fresh = np.ones(DIM, np.float32)
    store.vectors["d0"] = fresh
    renewed = base | {"d0": fresh}
    do_swap(store, NudgeLedger(tmp_path / "l"), {i: renewed[i] + 0.25 for i in ids}, renewed)

    report = lifecycle.swap(
        store,
        NudgeLedger(tmp_path / "l"),
        saved,
        base,
        saved_hashes,
        variant="N",
        gamma=0.1,
        model="m",
        dim=DIM,
        texts=store.texts,
    )
    lists = [report.written, report.restored, report.unchanged, report.changed, report.missing]
    assert sorted(i for part in lists for i in part) == sorted(ids)  # each record once
    assert sorted(report.written) == sorted(ids[1:]) and report.restored == ["d0"]
    assert report.changed == []
    np.testing.assert_array_equal(store.vectors["d0"], fresh)  # its new text's base

    back = lifecycle.revert(store, NudgeLedger(tmp_path / "l"), texts=store.texts)
    assert sorted(back.restored) == sorted(ids[1:]) and back.unchanged == ["d0"]
    assert back.written == [] and back.changed == [] and back.missing == []
    for i in ids:
        np.testing.assert_array_equal(store.vectors[i], renewed[i])
