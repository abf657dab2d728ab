"""Parquet files as a shard corpus: the same fit as .npy shards and in memory, read in
bounded batches, and bad files refused naming the file (and row) at fault."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.errors import (
    DuplicateIdError,
    NonFiniteError,
    NudgeError,
    ZeroVectorError,
)
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.shards import (
    ParquetCorpus,
    ShardedCorpus,
    ShardError,
    fit_shards,
    write_shards,
)

from .conftest import Problem, make_problem
from .optional import need

pa = need("pyarrow")
pq = need("pyarrow.parquet")
from nudge_integrations.core import parquet_shards, shard_set  # noqa: E402

N, D = 3000, 32
SPLITS = (0, 1100, 2000, N)  # three files of uneven length


def _ids(n: int, start: int = 0) -> list[str]:
    return [f"doc-{i}" for i in range(start, start + n)]


def _named(rel: list[list[int]], ids: list[Any]) -> list[list[Any]]:
    return [[ids[r] for r in per] for per in rel]


def _vector_column(x: np.ndarray, kind: str) -> Any:
    """``x`` as an arrow column: FixedSizeList<float32>, list<float32> or list<double>."""
    if kind == "fixed":
        return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])
    value = pa.float32() if kind == "list32" else pa.float64()
    return pa.array(list(x.astype(np.float64 if kind == "list64" else np.float32)), pa.list_(value))


def _write(
    folder: Path,
    x: np.ndarray,
    ids: list[Any],
    *,
    kind: str = "fixed",
    splits: tuple[int, ...] = SPLITS,
    row_group: int = 256,
    id_column: str = "id",
    vector_column: str = "vector",
) -> list[Path]:
    """Parquet files as a user would have them: one row per record, several row groups."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (a, b) in enumerate(pairwise(splits)):
        table = pa.table(
            {
                id_column: pa.array(ids[a:b]),
                "text": pa.array([f"text {i}" for i in range(a, b)]),
                vector_column: _vector_column(x[a:b], kind),
            }
        )
        paths.append(folder / f"part-{n}.parquet")
        pq.write_table(table, paths[-1], row_group_size=row_group)
    return paths


@pytest.fixture(scope="module")
def prob() -> Problem:
    return make_problem(seed=3, n=N, d=D, n_train=500, n_val=120)


@pytest.fixture
def files(prob: Problem, tmp_path: Path) -> Path:
    _write(tmp_path / "pq", prob.corpus, _ids(N))
    return tmp_path / "pq"


def _fit(cls: type, corpus: ShardedCorpus, prob: Problem, ids: list[Any]) -> Any:
    train, val = _named(prob.train_rel, ids), _named(prob.val_rel, ids)
    return fit_shards(cls(device="cpu"), corpus, prob.train_q, train, prob.val_q, val)


def _same(a: Any, b: Any) -> None:
    """Same gamma, same moved ids, vectors within 1e-6."""
    assert a.gamma_ == pytest.approx(b.gamma_, abs=1e-6)
    assert sorted(map(str, a.result_.ids)) == sorted(map(str, b.result_.ids))
    va = np.stack([a.result_.vector(i) for i in b.result_.ids])
    np.testing.assert_allclose(va, b.result_.vectors, atol=1e-6)


# ------------------------------------------------------------------ same fit
@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_parquet_fit_equals_the_npy_shards_and_the_in_memory_fit(
    prob: Problem, files: Path, tmp_path: Path, cls: type
) -> None:
    ids = _ids(N)
    corpus = ShardedCorpus.from_parquet(files, id_column="id", vector_column="vector")
    assert isinstance(corpus, ParquetCorpus) and len(corpus.shards) == 3 and len(corpus) == N
    npy = write_shards(prob.corpus, ids, tmp_path / "npy", rows_per_shard=700)
    train, val = _named(prob.train_rel, ids), _named(prob.val_rel, ids)
    mem = cls(device="cpu").fit(prob.corpus, prob.train_q, train, prob.val_q, val, ids=ids)
    par = _fit(cls, corpus, prob, ids)
    assert mem.gamma_ > 0  # a problem where NUDGE moves records
    _same(par, mem)
    _same(par, _fit(cls, npy, prob, ids))
    assert par.result_.rows.tolist() == [ids.index(i) for i in par.result_.ids]
    assert corpus.rows_scanned == N  # one pass over the vectors
    assert corpus.rows_read == len({i for per in train + val for i in per})
    # a RecordSource too: fit_by_id over the parquet corpus agrees
    _same(fit_by_id(cls(device="cpu"), corpus, prob.train_q, train, prob.val_q, val), mem)


@pytest.mark.parametrize(("kind", "int_ids"), [("list32", False), ("list64", True)])
def test_list_columns_and_integer_ids_give_the_same_fit(
    prob: Problem, tmp_path: Path, kind: str, int_ids: bool
) -> None:
    """A plain list column (float32 or float64) and integer ids read as the fixed-size
    float32 column with string ids does."""
    ids: list[Any] = list(range(N)) if int_ids else _ids(N)
    _write(tmp_path / "l", prob.corpus, ids, kind=kind, id_column="doc", vector_column="emb")
    corpus = ShardedCorpus.from_parquet(tmp_path / "l", id_column="doc", vector_column="emb")
    names = [str(i) for i in ids]
    mem = NudgeN(device="cpu").fit(
        prob.corpus,
        prob.train_q,
        _named(prob.train_rel, names),
        prob.val_q,
        _named(prob.val_rel, names),
        ids=names,
    )
    _same(_fit(NudgeN, corpus, prob, ids), mem)  # judgements name the ids as stored
    assert corpus.locate([ids[5], ids[2999], "nope"]).tolist() == [5, 2999, -1]
    assert corpus.ids_at([2999]) == [names[2999]]


def test_ids_are_found_by_streaming_and_rows_read_by_row_group(files: Path) -> None:
    corpus = ShardedCorpus.from_parquet(files)
    assert corpus.locate(["doc-0", "doc-2999", "doc-1400", "nope", "doc-30000"]).tolist() == [
        0,
        2999,
        1400,
        -1,
        -1,
    ]
    assert corpus.ids_at([2999, 0, 1100, 1099]) == ["doc-2999", "doc-0", "doc-1100", "doc-1099"]
    pick = [2999, 3, 1500, 3]
    got = corpus.rows(pick)
    table = pq.read_table(files / "part-2.parquet")  # the test reads whole; the corpus does not
    want = np.stack(table.column("vector").to_pylist()[999:1000]).astype(np.float32)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], got[3])
    # also by a list of files, one of them on its own
    single = ShardedCorpus.from_parquet([files / "part-1.parquet"])
    assert len(single) == 900 and single.ids_at([0]) == ["doc-1100"]


# --------------------------------------------------------------- bounded reads
def test_reading_is_batched_and_never_whole(
    prob: Problem, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read goes through ``iter_batches`` of at most ``batch_rows`` rows of the row
    groups needed, with pre-buffering off; nothing reads a file or row group whole."""
    corpus = ShardedCorpus.from_parquet(files, batch_rows=100)
    calls: list[dict[str, Any]] = []
    sizes: list[int] = []
    real = pq.ParquetFile.iter_batches
    real_init = pq.ParquetFile.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        calls.append(kwargs)
        for batch in real(self, *args, **kwargs):
            sizes.append(batch.num_rows)
            yield batch

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        assert kwargs.get("pre_buffer") is False and kwargs.get("buffer_size", 0) > 0
        real_init(self, *args, **kwargs)

    def whole(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a whole file or row group was read")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    monkeypatch.setattr(pq.ParquetFile, "__init__", init)
    for name in ("read", "read_row_group", "read_row_groups"):
        monkeypatch.setattr(pq.ParquetFile, name, whole)
    monkeypatch.setattr(pq, "read_table", whole)

    corpus.topk(prob.val_q, 10)
    assert max(sizes) <= 100 and sum(sizes) == N
    assert len(sizes) >= N // 100  # a 1100-row file is read in 11+ batches, not at once
    assert all(c["batch_size"] == 100 and c["columns"] == ["vector"] for c in calls)

    calls.clear()
    sizes.clear()
    corpus.rows([5, 300])  # rows 5 and 300 of file 0: row groups 0 and 1 only
    assert [c["row_groups"] for c in calls] == [[0], [1]]
    assert sum(sizes) == 2 * 256


def test_float32_fixed_size_lists_are_not_copied(files: Path) -> None:
    corpus = ShardedCorpus.from_parquet(files)
    assert isinstance(corpus, ParquetCorpus)
    [(first, col)] = list(corpus._batches(0, "vector", 10, 20))
    out = corpus._matrix(0, col, np.arange(first, first + len(col)))
    assert out.dtype == np.float32 and out.shape == (10, D)
    assert not out.flags.owndata and not out.flags.writeable  # a view of arrow's buffer


def test_blocks_are_whole_row_groups_covering_each_row_once(files: Path) -> None:
    corpus = ShardedCorpus.from_parquet(files)
    blocks = corpus.blocks(600)  # row groups of 256: blocks of 512 rows (and the tails)
    assert blocks[:2] == [(0, 0, 512), (0, 512, 1100)]  # 1100 rows: 4 x 256 + 76
    covered = np.zeros(N, int)
    for si, a, b in blocks:
        covered[corpus.shards[si].first + a : corpus.shards[si].first + b] += 1
        assert b - a <= 600
    assert (covered == 1).all()
    assert corpus.blocks(100)[:3] == [(0, 0, 100), (0, 100, 200), (0, 200, 256)]


# ------------------------------------------------------------------ bad input
def _table(ids: Any, vectors: Any, **extra: Any) -> Any:
    return pa.table({"id": ids, "vector": vectors, **extra})


def _rng_vectors(n: int, d: int = D, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


BAD_AT_OPEN: dict[str, tuple[Callable[[], Any] | None, str]] = {
    "wrong dimension": (
        lambda: _table(["x0", "x1"], _vector_column(_rng_vectors(2, 16), "fixed")),
        r"b\.parquet holds dimension 16 vectors, but .*a\.parquet holds dimension 32",
    ),
    "wrong dimension of a list column": (
        lambda: _table(["x0", "x1"], _vector_column(_rng_vectors(2, 31), "list32")),
        r"b\.parquet holds dimension 31 vectors",
    ),
    "integer vectors": (
        lambda: _table(["x0"], pa.array([list(range(D))], pa.list_(pa.int32(), D))),
        r"b\.parquet: column 'vector' is fixed_size_list<\w+: int32>\[32\]; vectors must be",
    ),
    "string vectors": (
        lambda: _table(["x0"], pa.array(["0.1, 0.2"])),
        r"b\.parquet: column 'vector' is string; vectors must be",
    ),
    "missing id column": (
        lambda: pa.table({"key": ["x0"], "vector": _vector_column(_rng_vectors(1), "fixed")}),
        r"b\.parquet has no column 'id' \(its columns: key, vector\)",
    ),
    "missing vector column": (
        lambda: pa.table({"id": ["x0"], "embedding": _vector_column(_rng_vectors(1), "fixed")}),
        r"b\.parquet has no column 'vector' \(its columns: id, embedding\)",
    ),
    "empty file": (
        lambda: _table(pa.array([], pa.string()), _vector_column(_rng_vectors(0), "fixed")),
        r"b\.parquet holds no rows",
    ),
    "float ids": (
        lambda: _table([1.5], _vector_column(_rng_vectors(1), "fixed")),
        r"b\.parquet: id column 'id' is double; ids must be strings or integers",
    ),
    "null id": (
        lambda: _table(["x0", None, "x2"], _vector_column(_rng_vectors(3), "fixed")),
        r"b\.parquet: row 1 has no id \(null\)",
    ),
    "duplicate id across files": (
        lambda: _table(["x0", "doc-7"], _vector_column(_rng_vectors(2), "fixed")),
        r"id 'doc-7' appears twice: parquet file .*a\.parquet row 7 and .*b\.parquet row 1",
    ),
    "duplicate id in a file": (
        lambda: _table(["x0", "x1", "x0"], _vector_column(_rng_vectors(3), "fixed")),
        r"id 'x0' appears twice: parquet file .*b\.parquet row 0 and .*b\.parquet row 2",
    ),
    "not parquet": (None, r"b\.parquet cannot be read as parquet"),
}


@pytest.mark.parametrize("case", list(BAD_AT_OPEN))
def test_bad_files_are_refused_when_opened_naming_the_file(tmp_path: Path, case: str) -> None:
    make, message = BAD_AT_OPEN[case]
    folder = tmp_path / "bad"
    folder.mkdir()
    pq.write_table(
        _table(_ids(10), _vector_column(_rng_vectors(10, seed=1), "fixed")), folder / "a.parquet"
    )
    if make is None:
        (folder / "b.parquet").write_bytes(b"not a parquet file at all")
    else:
        pq.write_table(make(), folder / "b.parquet")
    with pytest.raises(NudgeError, match=message) as err:
        ShardedCorpus.from_parquet(folder)
    assert isinstance(err.value, DuplicateIdError if "duplicate" in case else ShardError)


def test_wrong_dimension_against_the_dim_asked(files: Path) -> None:
    with pytest.raises(ShardError, match=r"part-0\.parquet holds dimension 32 .*dim=64 was asked"):
        ShardedCorpus.from_parquet(files, dim=64)
    (files / "empty").mkdir()
    with pytest.raises(ShardError, match=r"empty holds no \.parquet files"):
        ShardedCorpus.from_parquet(files / "empty")
    with pytest.raises(ShardError, match="does not exist"):
        ShardedCorpus.from_parquet([files / "part-9.parquet"])


def test_a_plain_open_of_a_parquet_folder_points_to_from_parquet(files: Path) -> None:
    with pytest.raises(
        ShardError, match=r"no manifest\.json; it holds parquet files.*from_parquet"
    ):
        ShardedCorpus(files)


def _damaged(folder: Path, prob: Problem, row: int, damage: str) -> Path:
    """The test corpus with file part-1's local ``row`` damaged (a list column)."""
    rows: list[Any] = list(prob.corpus.astype(np.float32))
    ids = _ids(N)
    g = SPLITS[1] + row
    if damage == "nan":
        rows[g] = rows[g].copy()
        rows[g][3] = np.nan
    elif damage == "zero":
        rows[g] = np.zeros(D, np.float32)
    elif damage == "ragged":
        rows[g] = rows[g][:-1]
    elif damage == "null vector":
        rows[g] = None
    folder.mkdir()
    for n, (a, b) in enumerate(pairwise(SPLITS)):
        vec = pa.array([None if r is None else list(r) for r in rows[a:b]], pa.list_(pa.float32()))
        pq.write_table(_table(ids[a:b], vec), folder / f"part-{n}.parquet", row_group_size=256)
    return folder


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("nan", NonFiniteError, r"parquet file .*part-1\.parquet row {row} contains NaN"),
        ("zero", ZeroVectorError, r"parquet file .*part-1\.parquet row {row} is an all-zero"),
        ("ragged", ShardError, r"part-1\.parquet: row {row} holds 31 values, .*dimension 32"),
        ("null vector", ShardError, r"part-1\.parquet: row {row} has no vector \(null\)"),
    ],
)
def test_bad_rows_are_named_by_file_and_row_when_read(
    prob: Problem, tmp_path: Path, damage: str, error: type, message: str
) -> None:
    ids = _ids(N)
    named = {i for per in prob.train_rel + prob.val_rel for i in per}
    row = next(r for r in range(417, 900) if SPLITS[1] + r not in named)  # an untouched row
    corpus = ShardedCorpus.from_parquet(_damaged(tmp_path / "d", prob, row, damage))
    with pytest.raises(error, match=message.format(row=row)):
        _fit(NudgeN, corpus, prob, ids)
    if error is ShardError:  # a read by row finds it too (finiteness: the fit's own check)
        with pytest.raises(error, match=message.format(row=row)):
            corpus.rows([SPLITS[1] + row])


def test_duplicates_are_found_across_passes_and_hash_collisions(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a hash that collides constantly and a pass of 100 hashes, distinct ids still
    pass and one repeated id is still found (even with a third id between the two)."""
    from nudge_integrations.core.shard_format import hash_ids as real

    def coarse(enc: np.ndarray) -> np.ndarray:
        return real(enc) % np.uint64(7)

    monkeypatch.setattr(parquet_shards, "hash_ids", coarse)
    monkeypatch.setattr(shard_set, "hash_ids", coarse)  # ShardSet.locate's
    monkeypatch.setattr(parquet_shards, "HASHES_PER_PASS", 100)
    corpus = ShardedCorpus.from_parquet(files)  # 30 passes, every hash shared: no error
    assert corpus.locate(["doc-17", "doc-2500", "nope"]).tolist() == [17, 2500, -1]
    pq.write_table(
        _table(["y0", "doc-2222", "y1"], _vector_column(_rng_vectors(3), "fixed")),
        files / "part-9.parquet",
    )
    with pytest.raises(DuplicateIdError, match=r"'doc-2222'.*part-2\.parquet row 222"):
        ShardedCorpus.from_parquet(files)


# -------------------------------------------------------------------- writing
def test_write_shards_as_parquet_fits_the_same_and_appends(prob: Problem, tmp_path: Path) -> None:
    ids = _ids(N)
    corpus = write_shards(
        prob.corpus, ids, tmp_path / "w", rows_per_shard=1300, block_rows=500, format="parquet"
    )
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    schema = pq.read_schema(tmp_path / "w" / "part-00000.parquet")
    assert schema.field("vector").type == pa.list_(pa.float32(), D)
    mem = NudgeN(device="cpu").fit(
        prob.corpus,
        prob.train_q,
        _named(prob.train_rel, ids),
        prob.val_q,
        _named(prob.val_rel, ids),
        ids=ids,
    )
    _same(_fit(NudgeN, corpus, prob, ids), mem)

    extra = _rng_vectors(20, seed=9)
    grown = write_shards(extra, None, tmp_path / "w", format="parquet")  # ids: row numbers
    assert len(grown) == N + 20 and grown.ids_at([N]) == [str(N)]
    with pytest.raises(DuplicateIdError, match="'doc-5'"):
        write_shards(extra[:2], ["new", "doc-5"], tmp_path / "w", format="parquet")
    assert len(ShardedCorpus.from_parquet(tmp_path / "w")) == N + 20  # nothing was added


def test_parquet_writer_refuses_bad_rows_and_leaves_nothing(tmp_path: Path) -> None:
    x = _rng_vectors(6, 8)
    x[4] = np.nan
    with pytest.raises(NonFiniteError, match="vectors row 4 contains NaN"):
        write_shards(x, None, tmp_path / "n", rows_per_shard=2, block_rows=2, format="parquet")
    assert not (tmp_path / "n").exists()  # the folder it made is removed too
    write_shards(_rng_vectors(2, 8), None, tmp_path / "npy")
    with pytest.raises(ShardError, match="npy shard folder"):
        write_shards(_rng_vectors(2, 8), ["a", "b"], tmp_path / "npy", format="parquet")


# ------------------------------------------------------------------------ Ray
@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    ray = need("ray")
    need("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_fit_over_parquet_equals_the_local_fit(
    ray_local: Any, prob: Problem, files: Path, tmp_path: Path
) -> None:
    """Workers reopen the parquet files (row-group blocks), give the local fit exactly,
    and a NaN row a worker meets is named by file and row, as locally."""
    from nudge_integrations.ray_engine import RayScan, fit_ray

    ids = _ids(N)
    train, val = _named(prob.train_rel, ids), _named(prob.val_rel, ids)
    corpus = ShardedCorpus.from_parquet(files, batch_rows=200)
    local = fit_shards(NudgeN(device="cpu"), corpus, prob.train_q, train, prob.val_q, val)
    dist = fit_ray(
        NudgeN(device="cpu"), corpus, prob.train_q, train, prob.val_q, val, rows_per_block=600
    )
    assert local.gamma_ > 0 and dist.gamma_ == local.gamma_
    assert dist.result_.ids == local.result_.ids
    np.testing.assert_array_equal(dist.result_.vectors, local.result_.vectors)
    np.testing.assert_array_equal(dist.result_.rows, local.result_.rows)
    ex = np.arange(0, N, 3)
    s, r = RayScan(corpus, rows_per_block=500).topk(prob.val_q, 10, ex)
    ls, lr = corpus.topk(prob.val_q, 10, ex)
    np.testing.assert_array_equal(r, lr)
    np.testing.assert_array_equal(s, ls)

    named = {i for per in prob.train_rel + prob.val_rel for i in per}
    row = next(r for r in range(300, 900) if SPLITS[1] + r not in named)
    bad = ShardedCorpus.from_parquet(_damaged(tmp_path / "nan", prob, row, "nan"))
    with pytest.raises(NonFiniteError, match=rf"part-1\.parquet row {row} .*Ray scan"):
        fit_ray(NudgeN(device="cpu"), bad, prob.train_q, train, prob.val_q, val)
