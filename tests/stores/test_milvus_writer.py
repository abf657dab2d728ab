"""The Milvus writer on Milvus Lite: vectors replaced by one upsert of id and vector per
request, no read, where the server keeps the other fields (a field every row must carry
makes it refuse a record that is gone); rows read and upserted whole otherwise; either
way text and metadata kept, vectors exact, and a fault inside a swap's write leaves the
store base, or recoverable by ``rollback()``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.ledger import LedgerError, NudgeLedger, text_hash
from nudge_integrations.stores.milvus import MilvusWriter
from nudge_integrations.stores.milvus.writer import partial_updates

from ..optional import need
from .recording import Recording

need("milvus_lite")
pymilvus = need("pymilvus")

N, DIM = 24, 8


def rows(n: int = N) -> NDArray[np.float32]:
    return np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    c = pymilvus.MilvusClient(str(tmp_path / "m.db"))
    yield c
    c.close()


def make(client: Any, name: str, *, text: bool = True, int_ids: bool = False) -> list[str]:
    """A collection of N rows (FLAT, IP, dynamic fields on): an id, a ``text`` field
    every row must carry (unless ``text`` is False) and a ``meta`` dynamic field."""
    types = pymilvus.DataType
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True)
    if int_ids:
        schema.add_field("id", types.INT64, is_primary=True)
    else:
        schema.add_field("id", types.VARCHAR, is_primary=True, max_length=16)
    if text:
        schema.add_field("text", types.VARCHAR, max_length=64)
    schema.add_field("vector", types.FLOAT_VECTOR, dim=DIM)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params)
    ids = [str(n) if int_ids else f"r{n}" for n in range(N)]
    x = rows()
    data = [
        {
            "id": int(i) if int_ids else i,
            "vector": x[n].tolist(),
            "meta": {"n": n},
            **({"text": f"text {n}"} if text else {}),
        }
        for n, i in enumerate(ids)
    ]
    client.insert(name, data)
    return ids


def writer_on(client: Any, name: str) -> tuple[MilvusWriter, Recording]:
    """A writer whose client records its reads and upserts: (call, ids, fields sent)."""

    def fields(*args: Any, **kw: Any) -> int:
        data = kw.get("data", args[1] if len(args) > 1 else [])
        return len(data[0]) if data else 0

    recorded = Recording(client, {"get": lambda *a, **k: len(k.get("ids", [])), "upsert": fields})
    writer = MilvusWriter(recorded, name, id_field="id", vector_field="vector", metric="IP")
    return writer, recorded


def stored(client: Any, name: str, ids: list[Any]) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): r for r in client.get(name, ids=ids, output_fields=["*"])}


@pytest.mark.parametrize("int_ids", [False, True])
def test_a_write_is_one_upsert_of_ids_and_vectors(client: Any, int_ids: bool) -> None:
    ids = make(client, "c", int_ids=int_ids)
    keys: list[Any] = [int(i) for i in ids] if int_ids else ids
    writer, recorded = writer_on(client, "c")
    x = rows()
    new = {i: x[n] * 2 for n, i in enumerate(ids[:10])}
    writer.write(new)
    assert writer.partial is True
    upserts = [size for call, size in recorded.requests if call == "upsert"]
    gets = [size for call, size in recorded.requests if call == "get"]
    assert upserts == [2] and gets == []  # id and vector only, nothing read first
    now = stored(client, "c", keys)
    for n, i in enumerate(ids):
        got = np.asarray(now[i]["vector"], np.float32)
        assert got.tobytes() == (x[n] * 2 if n < 10 else x[n]).tobytes(), i
        assert (now[i]["text"], now[i]["meta"]) == (f"text {n}", {"n": n})  # kept
    recorded.requests.clear()
    assert sorted(writer.read(ids)) == sorted(ids)
    assert [call for call, _ in recorded.requests] == ["get"]


def test_rows_are_upserted_whole_where_no_field_refuses_a_gone_record(client: Any) -> None:
    """Without a field every row must carry, a partial update of a record another process
    deleted would insert it again with only its vector: rows are read and upserted whole,
    and a record that is gone stays gone."""
    ids = make(client, "c", text=False)
    assert not partial_updates(client, "c", "id", "vector")
    writer, recorded = writer_on(client, "c")
    x = rows()
    client.delete("c", ids=[ids[1]])
    writer.write({ids[0]: x[0] * 2, ids[1]: x[1] * 2})
    assert writer.partial is False
    assert [call for call, _ in recorded.requests] == ["get", "upsert"]
    now = stored(client, "c", ids[:2])
    assert sorted(now) == [ids[0]] and now[ids[0]]["meta"] == {"n": 0}
    assert np.asarray(now[ids[0]]["vector"], np.float32).tobytes() == (x[0] * 2).tobytes()


def test_a_record_gone_mid_swap_refuses_the_whole_request(client: Any) -> None:
    ids = make(client, "c")
    writer, _ = writer_on(client, "c")
    x = rows()
    client.delete("c", ids=[ids[5]])
    with pytest.raises(NudgeError, match="1 of 2 records to write are no longer in the Milvus"):
        writer.write({ids[4]: x[4] * 2, ids[5]: x[5] * 2})
    now = stored(client, "c", ids[4:6])
    assert sorted(now) == [ids[4]]  # nothing inserted, and its neighbour not written
    assert np.asarray(now[ids[4]]["vector"], np.float32).tobytes() == x[4].tobytes()


def swap_in(
    writer: MilvusWriter, ledger_dir: Path, ids: list[str], moved: dict[str, Any], texts: Any
) -> Any:
    """The lifecycle's swap of ``moved`` (the rest of ``ids`` untouched), 4 a batch."""
    base = writer.read(list(moved))
    return lifecycle.swap(
        writer,
        NudgeLedger(ledger_dir),
        moved,
        base,
        {i: text_hash(texts[i]) for i in moved},
        variant="N",
        gamma=0.1,
        model=None,
        dim=DIM,
        batch_size=4,
    )


def test_a_fault_inside_a_swap_write_leaves_the_store_base(client: Any, tmp_path: Path) -> None:
    """The second upsert of a swap is applied, then reported failed (a connection lost
    after the server wrote): the swap raises and rolls back every batch it touched, that
    one included. A record another process deletes mid-swap: its batch is refused whole
    (not inserted again), the rollback meets it too, and ``rollback()`` from the ledger
    leaves every other record base."""
    ids = make(client, "c")
    writer = MilvusWriter(client, "c", id_field="id", vector_field="vector", metric="IP")
    x = rows()
    texts = {i: f"text {n}" for n, i in enumerate(ids)}
    moved = {i: x[n] * 3 for n, i in enumerate(ids[:12])}
    real, calls = client.upsert, {"n": 0}

    def lost_reply(*args: Any, **kw: Any) -> Any:
        got = real(*args, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            raise pymilvus.MilvusException(message="connection lost after the write")
        return got

    client.upsert = lost_reply
    with pytest.raises(pymilvus.MilvusException, match="connection lost"):
        swap_in(writer, tmp_path / "ledger", ids, moved, texts)
    del client.upsert
    assert calls["n"] > 3  # the rollback wrote the two batches back
    now = writer.read(ids)
    for n, i in enumerate(ids):
        assert now[i].tobytes() == x[n].tobytes(), i
    assert NudgeLedger(tmp_path / "ledger").op is None  # rolled back, nothing pending
    # another process deletes a record of the third batch while the swap runs
    real_write, calls["n"] = MilvusWriter._write, 0

    def deleted_meanwhile(self: MilvusWriter, vectors: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            client.delete("c", ids=[ids[9]])
        real_write(self, vectors)

    MilvusWriter._write = deleted_meanwhile  # type: ignore[method-assign]
    try:
        # the third batch is refused whole; rolling back, so is the deleted record's batch
        with pytest.raises(LedgerError, match="1 of 4 records to write are no longer in"):
            swap_in(writer, tmp_path / "ledger", ids, moved, texts)
    finally:
        MilvusWriter._write = real_write  # type: ignore[method-assign]
    ledger = NudgeLedger(tmp_path / "ledger")
    assert ledger.op is not None  # half-swapped, recorded: rollback() resolves it
    report = lifecycle.rollback(writer, ledger)
    assert report.missing == [ids[9]]
    now = writer.read(ids)
    assert ids[9] not in now and sorted(now) == sorted(set(ids) - {ids[9]})
    for n, i in enumerate(ids):
        if i in now:
            assert now[i].tobytes() == x[n].tobytes(), i
    assert stored(client, "c", [ids[2]])[ids[2]]["text"] == "text 2"
