"""One suite over every registered store, through the adapters' public API: for each
(store, framework) in ``registry.entries()`` (and the recipe store, registered here as a
store from outside the package would be), a small real store (``factories.py``) is fitted,
swapped in, checked and reverted in requests of at most ``BATCH`` records (a writer that
writes a record's vector and marker together never sends the vector alone); a failure at
the first, middle and last vector, marker or combined write request
(``tests/write_requests.py``) leaves it fully base, markers included; and a swap whose
rollback fails too leaves a ledger that ``finish()`` and ``rollback()`` resolve. A
registered store without a factory fails here.

Store-specific behaviour, and a failure at every single request of every operation on a
tiny in-memory store, are tested elsewhere (``test_lifecycle_faults.py``, ``tests/faults``).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from nudge_integrations.stores import registry
from nudge_integrations.stores.base import KeepsMarkers, MarkedWriter
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.ledger import LedgerError
from nudge_integrations.stores.registry import StoreEntry

from ..write_requests import InjectedError, Requests, watch
from .factories import (
    BATCH,
    FACTORIES,
    IDS,
    MOVED,
    QUESTIONS,
    TEXTS,
    Built,
    N,
    lc_embeddings,
    li_embedding,
)

with contextlib.suppress(ImportError, pytest.skip.Exception):  # LangChain Milvus' fix
    from ..langchain.test_stores import milvus_client_alias  # noqa: F401  (a fixture)

FRAMEWORKS = ("llama_index", "langchain")
GAMMA = 0.3

#: The recipe store (tests/stores/recipe/), added by docs/contributing-a-store.md alone:
#: registered by :func:`recipe_registered`, never by the package.
RECIPE = StoreEntry(
    "recipe",
    "SQLite (tests/stores/recipe, the contributing-a-store recipe)",
    "tests.stores.recipe",
    llama_index=("SqliteLlamaIndexStore",),
    langchain=("SqliteLangChainStore",),
)


def cases() -> list[tuple[str, str]]:
    """(store, framework) for every registered store and framework it supports, and the
    recipe store's."""
    found = [e for e in registry.entries() if e.name != RECIPE.name] + [RECIPE]
    return [(e.name, fw) for e in found for fw in FRAMEWORKS if getattr(e, fw)]


CASES = cases()
CASE_IDS = [f"{store}-{fw}" for store, fw in CASES]
#: Failure injection on these stores (in memory, SQLite) stays in the fast tier; on the rest
#: it is slow (pytest -m slow), while every store's swap, status and revert stay fast.
FAST_FAULTS = ("memory", "recipe")
FAULT_CASES = [c if c[0] in FAST_FAULTS else pytest.param(c, marks=pytest.mark.slow) for c in CASES]


@pytest.fixture
def recipe_registered() -> Iterator[StoreEntry]:
    """The recipe store in the registry for one test, as its own package would add it."""
    registry.register(RECIPE)
    yield RECIPE
    registry.unregister(RECIPE.name)


# ----------------------------------------------------------------------------- the store
Vectors = dict[str, NDArray[np.float32]]


@dataclass
class State:
    """What the store holds: vectors, markers and texts by id."""

    vectors: Vectors
    markers: dict[str, str]
    texts: dict[str, str]


@dataclass
class Subject:
    """A populated store of one (store, framework) and the adapter's verbs on it."""

    framework: str
    built: Built
    api: ModuleType

    @property
    def obj(self) -> Any:
        return self.built.obj

    def bound(self) -> Bound:
        """The store bound afresh, as the adapters bind it."""
        if self.framework == "langchain":
            return registry.bind(self.obj, "langchain")
        return registry.bind(self.obj.vector_store, "llama_index", index=self.obj)

    def keeps_markers(self) -> bool:
        return isinstance(self.bound().writer, KeepsMarkers)

    def state(self) -> State:
        bound = self.bound()
        writer = bound.writer
        ids = writer.all_ids()
        marks = writer.read_markers(ids) if isinstance(writer, KeepsMarkers) else {}
        return State(writer.read(ids), marks, bound.texts(ids))

    def fit(self) -> tuple[Any, Vectors]:
        """A NUDGE-N fit from the store's own records; its moved vectors by id."""
        if self.framework == "langchain":
            fitter = self.api.NudgeFitter(lc_embeddings(), gamma=GAMMA)
            fitter.fit(self.obj, QUESTIONS)
        else:
            from nudge_integrations.data.dataset import QADataset

            train = QADataset(
                {f"q{n}": q for n, (q, _) in enumerate(QUESTIONS)},
                dict(zip(IDS, TEXTS, strict=True)),
                {f"q{n}": rel for n, (_, rel) in enumerate(QUESTIONS)},
            )
            fitter = self.api.NudgeFinetuneEngine(
                train, li_embedding(), corpus=self.obj, gamma=GAMMA
            )
            fitter.finetune()
        moved = {str(i): np.asarray(v, np.float32) for i, v in fitter.nudged_vectors().items()}
        assert set(moved) <= set(IDS[:MOVED]) and len(moved) >= MOVED - 3, sorted(moved)
        return fitter, moved

    def swap(self, fitter: Any) -> Any:
        return fitter.swap_in(self.obj, batch_size=BATCH)

    def status(self) -> str:
        return str(self.api.status(self.obj).state)


def subject(case: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest) -> Subject:
    """The case's populated store, or a failure when its store has no factory."""
    store, framework = case
    make = FACTORIES.get(case)
    if make is None:
        pytest.fail(
            f"store {store!r} is registered for {framework} but has no factory in "
            "tests/stores/factories.py: add one (docs/contributing-a-store.md, step 4)"
        )
    if store == RECIPE.name:
        request.getfixturevalue("recipe_registered")
    api = importlib.import_module(f"nudge_integrations.{framework}")
    built = make(tmp_path, request)
    assert len(Subject(framework, built, api).bound().writer.all_ids()) == N
    return Subject(framework, built, api)


# ----------------------------------------------------------------------------- checks
def assert_vectors(now: Vectors, want: Vectors, rounding: float, where: str) -> None:
    """``now`` holds ``want``'s vectors bit for bit, or within ``rounding``."""
    assert set(now) == set(want), where
    for i, v in want.items():
        if rounding:
            np.testing.assert_allclose(now[i], v, rtol=0, atol=rounding, err_msg=f"{where}: {i}")
        else:
            assert now[i].tobytes() == v.tobytes(), f"{where}: {i} is not bit for bit"


def near(a: NDArray[np.float32], b: NDArray[np.float32], rounding: float) -> bool:
    """``a`` is ``b`` bit for bit, or within ``rounding``."""
    if rounding:
        return bool(np.allclose(a, b, rtol=0, atol=rounding))
    return a.tobytes() == b.tobytes()


def assert_base(s: Subject, base: State, where: str) -> None:
    """The store holds its base vectors, no marker, and its texts."""
    now = s.state()
    assert_vectors(now.vectors, base.vectors, s.built.rounding, where)
    assert now.markers == {}, f"{where}: markers left on {sorted(now.markers)[:3]}"
    assert now.texts == base.texts, where


def assert_nudged(s: Subject, base: State, moved: Vectors, where: str) -> None:
    """The moved records hold their nudged vectors (and markers), the rest their base."""
    now = s.state()
    want = {**base.vectors, **moved}
    assert_vectors(now.vectors, want, s.built.rounding, where)
    if s.keeps_markers():
        assert sorted(now.markers) == sorted(moved), where
        assert len(set(now.markers.values())) == 1, where  # one ledger
    assert now.texts == base.texts, where


def swapped_and_reverted(
    s: Subject, base: State, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Vectors, Requests, Requests]:
    """A fit swapped in and reverted with every write request watched (the reference for
    failure injection): its fitter, moved vectors, the watch, and the swap's requests."""
    fitter, moved = s.fit()
    seen = watch(type(s.bound().writer), monkeypatch)
    s.swap(fitter)
    swap = Requests(seen.sizes)
    seen.reset()
    s.api.revert(s.obj, batch_size=BATCH)
    assert_base(s, base, "reverted")
    return fitter, moved, seen, swap


# ----------------------------------------------------------------------------- tests
def test_every_registered_store_has_a_factory() -> None:
    """Stores registered now (not only at collection) each have a factory per framework."""
    for entry in registry.entries():
        for fw in FRAMEWORKS:
            if getattr(entry, fw):
                assert (entry.name, fw) in FACTORIES, f"{entry.name} ({fw}) has no factory"
    assert set(CASES) == set(FACTORIES)  # and no factory for a store nobody registered


def test_the_recipe_store_runs_in_this_suite_from_outside_the_package(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    assert ("recipe", "langchain") in CASES and ("recipe", "llama_index") in CASES
    assert RECIPE.name not in {e.name for e in registry.entries()}  # not in the package
    s = subject(("recipe", "langchain"), tmp_path, request)
    assert registry.entry_for(s.obj, "langchain") is RECIPE
    from .recipe.writer import OverLimitError

    writer = s.bound().writer
    with pytest.raises(OverLimitError):  # it refuses what it cannot take in one request
        writer._write(dict(zip(IDS[:4], s.state().vectors.values(), strict=False)))  # type: ignore[attr-defined]
    with pytest.raises(OverLimitError):
        writer._read(IDS[:6])  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_swap_status_revert(
    case: tuple[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = subject(case, tmp_path, request)
    base = s.state()
    assert s.status() == "base"
    fitter, moved = s.fit()
    seen = watch(type(s.bound().writer), monkeypatch)
    report = s.swap(fitter)
    assert sorted(report.written) == sorted(moved)
    assert s.status() == "nudged"
    assert_nudged(s, base, moved, "swapped")
    for kind, sizes in seen.sizes.items():  # every request within batch_size, several
        assert not sizes or max(sizes) <= BATCH, (kind, sizes)
    assert len(seen.vector_writes()) >= MOVED // BATCH
    if s.keeps_markers():
        assert len(seen.sizes["markers"] + seen.sizes["both"]) >= MOVED // BATCH
    writer = s.bound().writer
    if isinstance(writer, MarkedWriter) and writer.writes_together:
        # each moved record's vector went with its marker, never in a request of its own
        assert seen.sizes["vectors"] == [] and sum(seen.sizes["both"]) == len(moved)
    seen.reset()
    report = s.api.revert(s.obj, batch_size=BATCH)
    assert sorted(report.restored) == sorted(moved)
    assert s.status() == "base"
    assert_base(s, base, "reverted")
    assert max(seen.vector_writes()) <= BATCH


@pytest.mark.parametrize("case", FAULT_CASES, ids=CASE_IDS)
def test_a_failed_write_request_is_rolled_back(
    case: tuple[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A vector or marker write request failing first, in the middle or last: the swap
    raises that error and the store is fully base again, markers included."""
    s = subject(case, tmp_path, request)
    base = s.state()
    fitter, _, seen, swap = swapped_and_reverted(s, base, monkeypatch)
    assert swap.count("vectors") + swap.count("both") >= 3
    if s.keeps_markers():
        assert swap.count("markers") + swap.count("both") >= 3
    for kind in [k for k in ("vectors", "markers", "both") if swap.count(k)]:
        total = swap.count(kind)
        for n in sorted({1, (total + 1) // 2, total}):
            where = f"{kind} write request {n} of {total}"
            seen.reset((kind, n))
            with pytest.raises(InjectedError):
                s.swap(fitter)
            seen.reset()
            assert_base(s, base, where)
            assert s.status() == "base", where


@pytest.mark.parametrize("case", FAULT_CASES, ids=CASE_IDS)
def test_a_failed_rollback_is_resolved_by_finish_or_rollback(
    case: tuple[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A swap whose middle write fails, and whose rollback's first write fails too (as a
    killed process leaves it): the store is half-swapped, each record base or nudged and
    marked when nudged; ``finish()`` and ``rollback()`` on a fresh binding resolve it."""
    s = subject(case, tmp_path, request)
    base = s.state()
    fitter, moved, seen, swap = swapped_and_reverted(s, base, monkeypatch)
    k = swap.count("any") // 2 + 1
    for action in ("finish", "rollback"):
        seen.reset(("any", k), ("any", k + 1))
        with pytest.raises(LedgerError, match="rolling back failed too"):
            s.swap(fitter)
        seen.reset()
        assert s.status() == "half-swapped", action
        now = s.state()
        nudged = set()
        for i, v in now.vectors.items():
            if i in moved and near(v, moved[i], s.built.rounding):
                nudged.add(i)
            else:
                assert near(v, base.vectors[i], s.built.rounding), f"{action}: {i} is neither"
        assert nudged, action  # the failure came half-way through
        if s.keeps_markers():
            assert nudged <= set(now.markers), f"{action}: a nudged record is not marked"
        getattr(s.api, action)(s.obj, batch_size=BATCH)
        if action == "finish":
            assert s.status() == "nudged"
            assert_nudged(s, base, moved, "finished")
            s.api.revert(s.obj, batch_size=BATCH)
        assert s.status() == "base", action
        assert_base(s, base, action)
