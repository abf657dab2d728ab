"""The competitor scan of a shard folder on Ray: Ray Data over row blocks, merge on the driver.

Each block of a shard folder (a row range of one shard) is one Ray Data row; ``map_batches``
computes that block's exact top-k for the validation queries (the same code as the local
scan), and the driver merges the per-block lists. The touched set, the gamma search and
the result stay on the driver, so only the queries go out and ``blocks x queries x k``
scores come back. Needs the optional extra ``ray`` (``pip install
'nudge-integrations[ray]'``); nothing else in the package imports Ray.

Parquet files opened with ``ShardedCorpus.from_parquet`` scan the same way (blocks are
whole row groups; each task reads its rows in batches). Every worker must see the shard
folder or the files at the same path (a local disk in a one-machine Ray, shared storage
such as NFS in a cluster)::

    import ray
    ray.init(address="ray://head:10001")   # or ray.init(num_cpus=2) on one machine
    est = fit_ray(NudgeN(), "/mnt/shards", train_q, train_rel, val_q, val_rel)
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.fit import NudgeM, NudgeN
from nudge_integrations.core.ids import Judgements
from nudge_integrations.core.shards import ShardedCorpus, fit_shards, merge_topk

__all__ = ["RayScan", "fit_ray"]

Estimator = TypeVar("Estimator", NudgeN, NudgeM)

#: Rows per Ray task by default (about 380 MB of float32 at d = 384).
ROWS_PER_BLOCK = 250_000

_OPEN: dict[Hashable, ShardedCorpus] = {}  # per worker process: corpora already checked


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise NudgeError(
            "the Ray engine needs Ray Data: pip install 'nudge-integrations[ray]'"
        ) from err
    return ray


def _scan_batch(
    batch: dict[str, NDArray[Any]],
    *,
    opener: Callable[[], ShardedCorpus],
    queries: NDArray[np.float32],
    k: int,
    exclude: NDArray[np.int64],
    chunk_size: int | None,
    crash_flag: str | None,
    always_fail: bool,
) -> dict[str, NDArray[Any]]:
    """One Ray Data batch of blocks: each block's top-k, run inside a worker."""
    if always_fail:
        raise RuntimeError("injected failure in a scan task")
    if crash_flag and os.path.exists(crash_flag):
        os.unlink(crash_flag)
        os._exit(1)  # the worker dies mid-scan, as a lost node would
    corpus = _OPEN.get(opener)
    if corpus is None:
        corpus = _OPEN[opener] = opener()  # a shard folder, or parquet files
    scores, rows = [], []
    for si, a, b in zip(batch["shard"], batch["start"], batch["stop"], strict=True):
        s, r = corpus.scan_block(queries, k, int(si), int(a), int(b), exclude, chunk_size)
        scores.append(s)
        rows.append(r)
    return {"block": batch["block"], "scores": np.stack(scores), "rows": np.stack(rows)}


def _retry_args(map_batches: Callable[..., Any], retries: int) -> dict[str, Any]:
    """Bounded retries of a task lost with its worker, and none of a task that raised.

    A Ray Data whose ``map_batches`` names ``max_retries`` takes it directly; Ray 2.60's
    takes it only through ``**ray_remote_args``, deprecated (and gone in Ray 2.64, hence
    the extra's ``<2.64``). Without it Ray Data retries a lost worker's task forever, so
    a worker killed every time would hang the fit instead of failing it.
    """
    import inspect

    named = inspect.signature(map_batches).parameters
    if "max_retries" in named:
        return {"max_retries": retries}
    return {"max_retries": retries, "retry_exceptions": False}


class RayScan:
    """Exact top-k over a shard folder, one Ray task per block of ``rows_per_block`` rows.

    Plugs into :func:`~nudge_integrations.core.shards.fit_shards` as its ``engine``.
    A task lost with its worker is retried by Ray up to ``max_retries`` times (see
    :func:`_retry_args` for how that reaches Ray Data); a task that raises,
    or a block missing from the answer, fails the whole scan with a :class:`NudgeError`,
    so a fit never sees a partial competitor list.
    """

    def __init__(
        self,
        corpus: ShardedCorpus | str | os.PathLike[str],
        *,
        rows_per_block: int = ROWS_PER_BLOCK,
        max_retries: int = 3,
        chunk_size: int | None = None,
    ) -> None:
        self.corpus = corpus if isinstance(corpus, ShardedCorpus) else ShardedCorpus(corpus)
        self.rows_per_block = int(rows_per_block)
        self.max_retries = int(max_retries)
        self.chunk_size = chunk_size
        # test hooks: a flag file whose first finder crashes its worker; a failing task
        self._crash_flag: str | None = None
        self._always_fail = False

    def topk(
        self, queries: NDArray[np.float32], k: int, exclude_rows: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """``(scores, global rows)`` of the best ``k`` records per query outside
        ``exclude_rows``, exactly as :meth:`ShardedCorpus.topk`."""
        ray = _ray()
        if not ray.is_initialized():
            ray.init()
        q = np.ascontiguousarray(queries, dtype=np.float32)
        ex = np.sort(np.asarray(exclude_rows if exclude_rows is not None else [], np.int64))
        blocks = self.corpus.blocks(self.rows_per_block)
        if not blocks:
            return merge_topk([], k, len(q))
        items = [
            {"block": i, "shard": si, "start": a, "stop": b} for i, (si, a, b) in enumerate(blocks)
        ]
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        with warnings.catch_warnings():  # the deprecated route is the bounded one here
            warnings.filterwarnings("ignore", ".*ray_remote_args", DeprecationWarning)
            mapped = self._map(ds, q, k, ex)
        best = merge_topk([], k, len(q))
        seen = np.zeros(len(blocks), dtype=np.int64)
        try:
            for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
                seen[batch["block"]] += 1
                parts = [best, *zip(batch["scores"], batch["rows"], strict=True)]
                best = merge_topk(parts, k, len(q))  # streamed: memory stays m x k
        except Exception as err:  # Ray wraps task errors in its own types
            cause = _user_error(err)
            if isinstance(cause, NudgeError):  # e.g. a NaN row, named by shard and row
                raise type(cause)(f"{_plain(cause)} (in the Ray scan)") from err
            ours = _ours_in_traceback(err)
            if ours is not None:  # Ray keeps only the text of the worker's exception
                raise ours from err
            raise NudgeError(
                f"the Ray scan of {self.corpus.folder} failed, so no result is returned: "
                f"{type(cause).__name__}: {_plain(cause).splitlines()[0] if str(cause) else ''}"
            ) from err
        if not (seen == 1).all():
            bad = int(np.flatnonzero(seen != 1)[0])
            raise NudgeError(
                f"the Ray scan returned block {bad} {int(seen[bad])} times (expected once): "
                "refusing a partial or duplicated result"
            )
        self.corpus.rows_scanned += self.corpus.count
        return best

    def _map(self, ds: Any, q: NDArray[np.float32], k: int, ex: Any) -> Any:
        """The scan as a Ray Data ``map_batches`` over the corpus's blocks."""
        return ds.map_batches(
            _scan_batch,
            batch_size=1,
            batch_format="numpy",
            fn_kwargs={
                "opener": self.corpus.opener(),
                "queries": q,
                "k": int(k),
                "exclude": ex,
                "chunk_size": self.chunk_size,
                "crash_flag": self._crash_flag,
                "always_fail": self._always_fail,
            },
            num_cpus=1,
            **_retry_args(ds.map_batches, self.max_retries),
        )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plain(err: BaseException) -> str:
    """An exception's message without the terminal colours Ray adds."""
    return _ANSI.sub("", str(err.args[0]) if err.args else str(err))


def _user_error(err: BaseException) -> BaseException:
    """The exception a task's own code raised, under Ray's wrappers (RayTaskError's
    ``cause``, then the ``__cause__`` chain); ``err`` itself when there is none."""
    seen: set[int] = set()
    found = err
    node: BaseException | None = err
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if not type(node).__module__.startswith("ray"):
            found = node
        node = getattr(node, "cause", None) or node.__cause__
    return found


_OURS = re.compile(r"nudge_integrations\.core\.errors\.(\w+): (.+)")


def _ours_in_traceback(err: BaseException) -> NudgeError | None:
    """The package's own error a worker raised, rebuilt from the traceback text Ray
    passes back (its exception objects do not always survive the trip)."""
    from nudge_integrations.core import errors

    found = _OURS.findall(_ANSI.sub("", str(err)))
    if not found:
        return None
    name, message = found[-1]
    kind = getattr(errors, name, None)
    if not (isinstance(kind, type) and issubclass(kind, NudgeError)):
        return None
    return kind(f"{message.strip()} (in the Ray scan)")


def fit_ray(
    estimator: Estimator,
    corpus: ShardedCorpus | str | os.PathLike[str],
    train_queries: Any,
    train_relevant: Sequence[Judgements],
    val_queries: Any = None,
    val_relevant: Sequence[Judgements] | None = None,
    *,
    rows_per_block: int = ROWS_PER_BLOCK,
    max_retries: int = 3,
) -> Estimator:
    """:func:`~nudge_integrations.core.shards.fit_shards` with the competitor scan on Ray.

    Starts a local Ray when none is running (call ``ray.init(address=...)`` first to
    use a cluster). Gamma and vectors equal the local fit over the same folder.
    """
    shards = corpus if isinstance(corpus, ShardedCorpus) else ShardedCorpus(corpus)
    engine = RayScan(shards, rows_per_block=rows_per_block, max_retries=max_retries)
    return fit_shards(
        estimator, shards, train_queries, train_relevant, val_queries, val_relevant, engine=engine
    )
