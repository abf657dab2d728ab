"""Shard folders: the fit over shards equals the in-memory fit; bad shards say which."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.errors import (
    DuplicateIdError,
    NonFiniteError,
    NudgeError,
    ShapeError,
    UnknownIdError,
)
from nudge_integrations.core.fit_by_id import fit_by_id
from nudge_integrations.core.search import _topk_scan_torch, scan_chunks
from nudge_integrations.core.shards import (
    ShardedCorpus,
    ShardError,
    encode_ids,
    fit_shards,
    hash_ids,
    merge_topk,
    write_shards,
)

from .conftest import Problem, make_problem

N = 3000


def _ids(n: int, start: int = 0) -> list[str]:
    return [f"doc-{i}" for i in range(start, start + n)]


def _named(rel: list[list[int]], ids: list[str]) -> list[list[str]]:
    return [[ids[r] for r in per] for per in rel]


@pytest.fixture(scope="module")
def prob() -> Problem:
    return make_problem(seed=3, n=N, d=32, n_train=500, n_val=120)


@pytest.fixture
def folder(prob: Problem, tmp_path: Path) -> ShardedCorpus:
    # uneven shards: 700 rows each and a 200-row tail
    return write_shards(prob.corpus, _ids(N), tmp_path / "s", rows_per_shard=700, block_rows=450)


def _same(a: NudgeN | NudgeM, b: NudgeN | NudgeM) -> None:
    assert a.gamma_ == pytest.approx(b.gamma_, abs=1e-6)
    ka, kb = sorted(a.curve_), sorted(b.curve_)  # NUDGE-M's breakpoints: equal to rounding
    np.testing.assert_allclose(ka, kb, atol=1e-5)
    np.testing.assert_allclose([a.curve_[g] for g in ka], [b.curve_[g] for g in kb])
    assert sorted(map(str, a.result_.ids)) == sorted(map(str, b.result_.ids))
    va = np.stack([a.result_.vector(i) for i in b.result_.ids])
    np.testing.assert_allclose(va, b.result_.vectors, atol=1e-5)


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_fit_over_shards_equals_the_in_memory_fit(
    prob: Problem, folder: ShardedCorpus, cls: type
) -> None:
    ids = _ids(N)
    train, val = _named(prob.train_rel, ids), _named(prob.val_rel, ids)
    mem = cls(device="cpu").fit(prob.corpus, prob.train_q, train, prob.val_q, val, ids=ids)
    sh = fit_shards(cls(device="cpu"), folder, prob.train_q, train, prob.val_q, val)
    assert mem.gamma_ > 0  # the problem is one where NUDGE helps
    _same(sh, mem)
    # rows are global rows of the folder
    assert sh.result_.rows.tolist() == [ids.index(i) for i in sh.result_.ids]
    assert sh.result_.n_records == N
    # the folder is also a RecordSource: the lead's fit_by_id gives the same result
    _same(fit_by_id(cls(device="cpu"), folder, prob.train_q, train, prob.val_q, val), mem)


def test_memmap_corpus_equals_in_memory(prob: Problem, tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", prob.corpus)
    mm = np.load(tmp_path / "c.npy", mmap_mode="r")
    a = NudgeN(device="cpu", chunk_size=256).fit(
        mm, prob.train_q, prob.train_rel, prob.val_q, prob.val_rel
    )
    b = NudgeN(device="cpu").fit(
        prob.corpus, prob.train_q, prob.train_rel, prob.val_q, prob.val_rel
    )
    _same(a, b)


def test_one_scan_per_fit_and_refit_after_adding_records_and_queries(
    prob: Problem, folder: ShardedCorpus
) -> None:
    ids = _ids(N)
    train, val = _named(prob.train_rel, ids), _named(prob.val_rel, ids)
    fit_shards(NudgeN(device="cpu"), folder, prob.train_q, train, prob.val_q, val)
    named = len({i for per in train + val for i in per})
    assert folder.rows_scanned == N  # one pass over the corpus, nothing else
    assert folder.rows_read == named  # and only the named records read by id

    # new records arrive as a new shard; new training queries name some of them
    extra = make_problem(seed=4, n=400, d=32, n_train=80, n_val=10)
    grown = write_shards(extra.corpus, _ids(400, start=N), folder.folder, rows_per_shard=700)
    assert len(grown) == N + 400 and len(grown.shards) == len(folder.shards) + 1
    all_ids = _ids(N + 400)
    corpus = np.concatenate([prob.corpus, extra.corpus])
    train2 = train + [[all_ids[N + r] for r in per] for per in extra.train_rel]
    q2 = np.concatenate([prob.train_q, extra.train_q])
    sh = fit_shards(NudgeN(device="cpu"), grown, q2, train2, prob.val_q, val)
    mem = NudgeN(device="cpu").fit(corpus, q2, train2, prob.val_q, val, ids=all_ids)
    _same(sh, mem)
    assert any(i.startswith("doc-3") and int(i[4:]) >= N for i in sh.result_.ids)
    assert grown.rows_scanned == N + 400
    assert grown.rows_read == len({i for per in train2 + val for i in per})


def test_ids_are_found_by_hash_and_checked(folder: ShardedCorpus) -> None:
    rows = folder.locate(["doc-0", "doc-2999", "doc-1400", "nope", "doc-30000"])
    assert rows.tolist() == [0, 2999, 1400, -1, -1]
    assert folder.ids_at([2999, 0, 701]) == ["doc-2999", "doc-0", "doc-701"]
    # the hash does not depend on the fixed width the ids were stored with
    assert hash_ids(np.array([b"ab"], "S2"))[0] == hash_ids(np.array([b"ab"], "S9"))[0]
    assert len(set(hash_ids(encode_ids(_ids(N))).tolist())) == N


def test_duplicate_and_unknown_ids(prob: Problem, folder: ShardedCorpus, tmp_path: Path) -> None:
    with pytest.raises(DuplicateIdError, match="doc-5"):
        write_shards(prob.corpus[:10], _ids(10, start=5), folder.folder)
    assert len(ShardedCorpus(folder.folder)) == N  # nothing was added
    with pytest.raises(DuplicateIdError, match="'a'"):
        write_shards(prob.corpus[:3], ["a", "b", "a"], tmp_path / "dup", block_rows=1)
    with pytest.raises(UnknownIdError, match="doc-99999"):
        fit_shards(NudgeN(device="cpu"), folder, prob.train_q[:2], [["doc-1"], ["doc-99999"]])


def _break(folder: Path, shard: str, array: np.ndarray, suffix: str = ".npy") -> None:
    np.save(folder / f"{shard}{suffix}", array)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("dim", "shard-00001.*shape \\(700, 16\\).*dimension is 32"),
        ("dtype", "shard-00001.*float64 vectors"),
        ("ids", "shard-00001.*ids file holds \\(699,\\)"),
        ("missing", "shard-00001.*shard-00001.keys.npy is missing"),
        ("count", "counts 3001 records but its shards hold 3000"),
        ("manifest", "not a nudge-shards version 1"),
    ],
)
def test_bad_shards_name_the_shard(folder: ShardedCorpus, damage: str, message: str) -> None:
    f = folder.folder
    rng = np.random.default_rng(0)
    if damage == "dim":
        _break(f, "shard-00001", rng.normal(size=(700, 16)).astype(np.float32))
    elif damage == "dtype":
        _break(f, "shard-00001", rng.normal(size=(700, 32)))
    elif damage == "ids":
        _break(f, "shard-00001", encode_ids(_ids(699)), ".ids.npy")
    elif damage == "missing":
        (f / "shard-00001.keys.npy").unlink()
    else:
        manifest = json.loads((f / "manifest.json").read_text())
        if damage == "count":
            manifest["count"] += 1
        else:
            manifest["format"] = "something-else"
        (f / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match=message) as err:
        ShardedCorpus(f)
    assert isinstance(err.value, NudgeError)


def test_nan_in_a_shard_is_found_by_the_scan(prob: Problem, folder: ShardedCorpus) -> None:
    bad = np.load(folder.folder / "shard-00002.npy")
    bad[17, 3] = np.nan
    np.save(folder.folder / "shard-00002.npy", bad)
    ids = _ids(N)
    with pytest.raises(NonFiniteError, match=r"shard shard-00002 .*row 1417"):
        fit_shards(
            NudgeN(device="cpu"),
            ShardedCorpus(folder.folder),
            prob.train_q,
            _named(prob.train_rel, ids),
            prob.val_q,
            _named(prob.val_rel, ids),
        )


def test_writer_refuses_bad_vectors(tmp_path: Path) -> None:
    x = np.ones((4, 8), np.float32)
    x[2] = 0
    with pytest.raises(NudgeError, match="row 2 is an all-zero"):
        write_shards(x, None, tmp_path / "z")
    with pytest.raises(NudgeError, match="shape"):
        write_shards(iter([np.ones((2, 8)), np.ones((2, 9))]), None, tmp_path / "w")


@pytest.mark.parametrize("chunk", [37, 640, 5000])
def test_cpu_scan_equals_the_torch_scan(prob: Problem, chunk: int) -> None:
    """The BLAS + threshold-merge scan returns the torch scan's lists (scores to 1e-6)."""
    rng = np.random.default_rng(1)
    x = prob.corpus * rng.uniform(0.5, 2.0, size=(N, 1)).astype(np.float32)  # not unit-norm
    exclude = rng.random(N) < 0.2
    q = prob.val_q
    s, r = scan_chunks(q, x, 10, normalize=True, exclude=exclude, chunk_size=chunk)
    ts, tr = _topk_scan_torch(
        torch.from_numpy(q), x, 10, normalize_corpus=True, exclude=exclude, chunk_size=chunk
    )
    np.testing.assert_allclose(s, ts.numpy(), atol=1e-6)
    assert (r == tr.numpy()).mean() > 0.999  # only exact ties may order differently
    assert not exclude[r[r >= 0]].any()
    # fewer eligible rows than k: -inf / -1 tails
    s2, r2 = scan_chunks(q[:3], x[:5], 10, normalize=True, exclude=exclude[:5], chunk_size=2)
    assert (r2[:, 5 - int(exclude[:5].sum()) :] == -1).all()
    assert np.isneginf(s2[:, 5 - int(exclude[:5].sum()) :]).all()


def test_merge_of_blocks_equals_one_scan(prob: Problem) -> None:
    q, x = prob.val_q, prob.corpus
    whole = scan_chunks(q, x, 10, normalize=True)
    parts = [
        scan_chunks(q, x[a : a + 900], 10, normalize=True, row_offset=a) for a in range(0, N, 900)
    ]
    merged = merge_topk(parts, 10, len(q))
    np.testing.assert_array_equal(merged[1], whole[1])
    np.testing.assert_allclose(merged[0], whole[0], atol=1e-6)


def test_a_zero_row_in_a_shard_is_refused_by_the_scan(
    prob: Problem, folder: ShardedCorpus, tmp_path: Path
) -> None:
    """As ``write_shards`` and the in-memory fit refuse it: a zero vector has no direction."""
    import shutil

    from nudge_integrations.core.errors import ZeroVectorError

    copy = tmp_path / "zero"
    shutil.copytree(folder.folder, copy)
    bad = np.load(copy / "shard-00002.npy")
    bad[17] = 0.0
    np.save(copy / "shard-00002.npy", bad)
    ids = _ids(N)
    with pytest.raises(ZeroVectorError, match=r"shard shard-00002 .*row 1417"):
        fit_shards(
            NudgeN(device="cpu"),
            ShardedCorpus(copy),
            prob.train_q,
            _named(prob.train_rel, ids),
            prob.val_q,
            _named(prob.val_rel, ids),
        )


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    """A new folder is removed, an append's partial shards are deleted: the folder reads
    as it did before the call."""
    import os

    x = np.random.default_rng(0).standard_normal((10, 8)).astype(np.float32)
    with pytest.raises(ShapeError, match="2 ids, and row 2 has none"):
        write_shards(x, [str(i) for i in range(2)], tmp_path / "new")
    assert not (tmp_path / "new").exists()
    write_shards(x, [str(i) for i in range(10)], tmp_path / "old", rows_per_shard=4)
    before = sorted(os.listdir(tmp_path / "old"))

    def blocks() -> Iterator[np.ndarray]:
        yield x[:5]  # one new shard and a half are written before the source fails
        raise RuntimeError("the source of vectors failed")

    with pytest.raises(RuntimeError, match="source of vectors failed"):
        write_shards(blocks(), [f"n{i}" for i in range(10)], tmp_path / "old", rows_per_shard=4)
    assert sorted(os.listdir(tmp_path / "old")) == before
    assert len(ShardedCorpus(tmp_path / "old")) == 10
