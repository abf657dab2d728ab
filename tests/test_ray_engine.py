"""The Ray engine: same fit as the local shard scan; a lost worker is retried, a failing
task raises, and no partial result is ever returned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.shards import ShardedCorpus, fit_shards, write_shards

from .conftest import Problem, make_problem
from .optional import need

ray = need("ray")
need("ray.data")
from nudge_integrations.ray_engine import RayScan, fit_ray  # noqa: E402

#: Slow: starting the local Ray cluster alone takes about 5 s on the 2-core machine.
pytestmark = pytest.mark.slow

N = 2400


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Problem, ShardedCorpus, list[list[str]], list[list[str]]]:
    prob = make_problem(seed=5, n=N, d=32, n_train=400, n_val=100)
    ids = [f"r{i}" for i in range(N)]
    folder = write_shards(
        prob.corpus, ids, tmp_path_factory.mktemp("ray") / "s", rows_per_shard=1000
    )
    train = [[ids[r] for r in per] for per in prob.train_rel]
    val = [[ids[r] for r in per] for per in prob.val_rel]
    return prob, folder, train, val


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_ray_fit_equals_the_local_fit(ray_local: None, setup: tuple, cls: type) -> None:
    prob, folder, train, val = setup
    local = fit_shards(cls(device="cpu"), folder, prob.train_q, train, prob.val_q, val)
    dist = fit_ray(
        cls(device="cpu"), folder, prob.train_q, train, prob.val_q, val, rows_per_block=450
    )
    assert local.gamma_ > 0
    assert dist.gamma_ == local.gamma_
    assert dist.result_.ids == local.result_.ids
    np.testing.assert_array_equal(dist.result_.vectors, local.result_.vectors)
    np.testing.assert_array_equal(dist.result_.rows, local.result_.rows)


def test_scan_equals_the_local_scan_and_respects_exclusions(ray_local: None, setup: tuple) -> None:
    prob, folder, _, _ = setup
    ex = np.arange(0, N, 3)
    s, r = RayScan(folder, rows_per_block=700).topk(prob.val_q, 10, ex)
    ls, lr = folder.topk(prob.val_q, 10, ex)
    np.testing.assert_array_equal(r, lr)
    np.testing.assert_array_equal(s, ls)
    assert not np.isin(r, ex).any()


def test_the_scan_warns_nothing_and_bounds_retries(ray_local: None, setup: tuple) -> None:
    """Ray 2.60 takes ``max_retries`` only through ``map_batches(**ray_remote_args)``,
    deprecated (gone in 2.64, which the extra excludes); without it a lost worker's task
    is retried forever. The scan passes it there, silencing only that warning, and takes
    the named argument where a Ray Data has one."""
    import warnings

    from nudge_integrations.ray_engine import _retry_args

    prob, folder, _, _ = setup
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*ray_remote_args", DeprecationWarning)
        _, r = RayScan(folder, rows_per_block=700).topk(prob.val_q, 3)
    np.testing.assert_array_equal(r, folder.topk(prob.val_q, 3)[1])

    def named(fn: object, *, max_retries: int = 0) -> None: ...

    def without(fn: object, *, num_cpus: float = 1) -> None: ...

    assert _retry_args(named, 2) == {"max_retries": 2}  # a Ray Data that takes it by name
    assert _retry_args(without, 2) == {"max_retries": 2, "retry_exceptions": False}


def test_a_worker_lost_mid_scan_is_retried(ray_local: None, setup: tuple, tmp_path: Path) -> None:
    prob, folder, _, _ = setup
    flag = tmp_path / "crash-once"
    flag.touch()
    scan = RayScan(folder, rows_per_block=600)
    scan._crash_flag = str(flag)
    s, r = scan.topk(prob.val_q, 5)
    assert not flag.exists()  # a task found it and its worker died
    ls, lr = folder.topk(prob.val_q, 5)
    np.testing.assert_array_equal(r, lr)
    np.testing.assert_array_equal(s, ls)


def test_a_task_that_keeps_failing_raises_and_returns_nothing(
    ray_local: None, setup: tuple
) -> None:
    prob, folder, train, val = setup
    scan = RayScan(folder, rows_per_block=600, max_retries=1)
    scan._always_fail = True
    est = NudgeN(device="cpu")
    with pytest.raises(NudgeError, match=r"Ray scan .* failed, so no result is returned"):
        fit_shards(est, folder, prob.train_q, train, prob.val_q, val, engine=scan)
    assert getattr(est, "result_", None) is None


def test_a_bad_row_found_by_a_worker_is_named_as_locally(
    ray_local: None, setup: tuple, tmp_path: Path
) -> None:
    """A NaN in an untouched row surfaces from the worker with its shard and row, not as
    Ray's wrapper."""
    from nudge_integrations.core.errors import NonFiniteError

    prob, _, train, val = setup
    named = {i for per in train + val for i in per}
    ids = [f"r{i}" for i in range(N)]
    row = next(r for r in range(1500, N) if ids[r] not in named)
    write_shards(prob.corpus, ids, tmp_path / "bad", rows_per_shard=1000)
    shard = np.load(tmp_path / "bad" / "shard-00001.npy", mmap_mode="r+")
    shard[row - 1000, 3] = np.nan  # damaged on disk after it was written
    shard.flush()
    del shard
    bad = ShardedCorpus(tmp_path / "bad")
    with pytest.raises(NonFiniteError, match=r"shard-00001.*Ray scan") as info:
        fit_ray(NudgeN(device="cpu"), bad, prob.train_q, train, prob.val_q, val)
    assert "\x1b[" not in str(info.value)
