"""The framework-free LanceDB writer on real tables: exact writes by id, the metric its
searches rank by, and clear refusals."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.stores.lancedb import LanceDBWriter

lancedb = pytest.importorskip("lancedb")


def table(tmp: Path, n: int = 60, dim: int = 16, **extra: Any) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(0)
    vecs = (rng.normal(size=(n, dim)) * rng.uniform(0.2, 3, size=(n, 1))).astype(np.float32)
    rows = [
        {"id": f"r'{i}", "vector": vecs[i].tolist(), "text": f"t{i}", "meta": {"k": i}, **extra}
        for i in range(n)
    ]
    return lancedb.connect(str(tmp / "db")).create_table("t", rows), vecs


def test_writes_by_id_exactly_and_keeps_other_columns(tmp_path: Path) -> None:
    tbl, vecs = table(tmp_path)
    writer = LanceDBWriter(tbl)
    ids = writer.all_ids()
    assert len(ids) == 60 and writer.similarity == "l2" and writer.dim == 16
    assert writer.location() == ("path", str(tmp_path / "db"), "t")
    new = {i: np.full(16, n + 0.1, dtype=np.float32) for n, i in enumerate(ids[:7])}
    writer.write(new)
    got = writer.read([*ids[:9], "absent"])
    assert sorted(got) == sorted(ids[:9])  # absent ids are left out
    for i in ids[:7]:
        np.testing.assert_array_equal(got[i], new[i])
    np.testing.assert_array_equal(got[ids[8]], vecs[8])
    row = tbl.search().where("text = 't3'").to_arrow().to_pylist()[0]
    assert row["id"] == "r'3" and row["meta"] == {"k": 3}


def test_a_dot_index_keeps_ranking_by_dot_after_every_row_is_rewritten(tmp_path: Path) -> None:
    from lancedb.index import IvfFlat

    tbl, vecs = table(tmp_path)
    tbl.create_index("vector", config=IvfFlat(distance_type="dot", num_partitions=2))
    writer = LanceDBWriter(tbl)
    assert writer.similarity == "dot"
    ids = writer.all_ids()
    order = [int(i[2:]) for i in ids]
    moved = vecs[order] * 2.5  # unnormalised, as NUDGE-M makes them
    writer.write(dict(zip(ids, moved, strict=True)))
    # LanceDB ranks by l2 once its index covers no row; the writer re-indexed them
    assert LanceDBWriter(tbl).similarity == "dot"
    rng = np.random.default_rng(1)
    for q in rng.normal(size=(20, 16)).astype(np.float32):
        top = tbl.search(q).limit(1).to_arrow()["id"][0].as_py()
        assert top == ids[int(np.argmax(moved @ q))]


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    tbl, _ = table(tmp_path)
    with pytest.raises(NudgeError, match="no column 'emb' for its vectors"):
        LanceDBWriter(tbl, vector_column="emb")
    with pytest.raises(NudgeError, match="only string ids"):
        LanceDBWriter(tbl, id_column="meta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tbl.add([{"id": "r'0", "vector": [0.0] * 16, "text": "again", "meta": {"k": 0}}])
    with pytest.raises(DuplicateIdError, match='"r\'0" is on 2 rows'):
        LanceDBWriter(tbl).all_ids()
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float64(), 4))])
    wide = lancedb.connect(str(tmp_path / "db")).create_table("f64", schema=schema)
    with pytest.raises(NudgeError, match="not float32"):
        LanceDBWriter(wide)
