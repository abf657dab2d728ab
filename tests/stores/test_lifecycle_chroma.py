"""The ledgered lifecycle on a real Chroma collection whose client reports a max batch size
of 7 (its HTTP client then refuses any larger request, as embedded Chroma refuses more
than 5,461): 50 records swapped and reverted through the ledger in requests of at most 7,
markers set and removed batch by batch, users' metadata kept, revert bit for bit; a
failure in the middle of the swap is rolled back, markers included."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nudge_integrations.compat.clients import chroma_client
from nudge_integrations.stores import lifecycle
from nudge_integrations.stores.base import MARKER, Limits
from nudge_integrations.stores.chroma import ChromaWriter
from nudge_integrations.stores.ledger import NudgeLedger, text_hash

from .recording import Recording

N, SMALL, DIM = 50, 7, 8


def _size(*_: Any, ids: Any = None, limit: Any = None, **__: Any) -> int:
    return len(ids) if ids is not None else int(limit or 0)


class Failing(Recording):
    """A recording collection whose ``update`` number ``fail_at`` raises."""

    fail_at = 0

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != "update":
            return call

        def update(*args: Any, **kwargs: Any) -> Any:
            if self.count("update") + 1 == self.fail_at:
                self.requests.append(("update", 0))
                raise RuntimeError("injected: Chroma update failed")
            return call(*args, **kwargs)

        return update


def _collection(server: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str], Any]:
    col = server.create_collection(f"lc-{uuid.uuid4().hex[:8]}", metadata={"hnsw:space": "ip"})
    ids = [f"r{i}" for i in range(N)]
    base = np.random.default_rng(0).standard_normal((N, DIM)).astype(np.float32)
    col.add(
        ids=ids,
        embeddings=base,
        documents=[f"text {i}" for i in range(N)],
        metadatas=[{"n": i} for i in range(N)],
    )
    monkeypatch.setattr(chroma_client(col), "get_max_batch_size", lambda: SMALL)
    return col, ids, base


def _swap(writer: ChromaWriter, path: Path, ids: list[str], base: Any, texts: Any) -> Any:
    return lifecycle.swap(
        writer,
        NudgeLedger(path),
        {i: base[n] + np.float32(0.5) for n, i in enumerate(ids)},
        {i: base[n] for n, i in enumerate(ids)},
        {i: text_hash(f"text {n}") for n, i in enumerate(ids)},
        variant="N",
        gamma=0.1,
        model="m",
        dim=DIM,
        texts=texts,
    )


def _texts(col: Any) -> Any:
    def read(chunk: Any) -> dict[str, str]:
        got = col.get(ids=list(chunk), include=["documents"])
        return dict(zip(got["ids"], got["documents"], strict=True))

    return read


def _held(col: Any, ids: list[str]) -> tuple[Any, list[Any]]:
    """Vectors and metadata as the collection holds them (read in small pages)."""
    rows, metas = [], []
    for s in range(0, len(ids), SMALL):
        got = col.get(ids=ids[s : s + SMALL], include=["embeddings", "metadatas"])
        order = {i: n for n, i in enumerate(got["ids"])}
        rows += [np.asarray(got["embeddings"][order[i]], np.float32) for i in ids[s : s + SMALL]]
        metas += [got["metadatas"][order[i]] for i in ids[s : s + SMALL]]
    return np.stack(rows), metas


def test_swap_and_revert_within_a_max_batch_of_7(
    chroma_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    col, ids, base = _collection(chroma_server, monkeypatch)
    with pytest.raises(Exception, match="batch size"):  # Chroma refuses 50 markers at once
        col.update(ids=ids, metadatas=[{MARKER: "x"}] * N)
    seen = Recording(col, {"get": _size, "update": _size})
    writer = ChromaWriter(seen)
    assert writer.limits == Limits(read=SMALL, write=SMALL)
    report = _swap(writer, tmp_path / "l", ids, base, _texts(seen))
    assert sorted(report.written) == sorted(ids)
    assert seen.largest("get", "update") == SMALL
    ours = str(NudgeLedger(tmp_path / "l").path)
    rows, metas = _held(col, ids)
    np.testing.assert_array_equal(rows, base + np.float32(0.5))
    assert metas == [{"n": n, MARKER: ours} for n in range(N)]
    st = lifecycle.status(writer, NudgeLedger(tmp_path / "l"), texts=_texts(seen))
    assert st.state == "nudged" and len(st.nudged) == N

    seen.requests.clear()
    back = lifecycle.revert(writer, NudgeLedger(tmp_path / "l"), texts=_texts(seen))
    assert sorted(back.restored) == sorted(ids)
    assert seen.largest("get", "update") == SMALL
    rows, metas = _held(col, ids)
    np.testing.assert_array_equal(rows, base)  # an "ip" collection keeps vectors as given
    assert metas == [{"n": n} for n in range(N)]


def test_a_failed_update_mid_swap_is_rolled_back_with_its_markers(
    chroma_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    col, ids, base = _collection(chroma_server, monkeypatch)
    failing = Failing(col, {"get": _size, "update": _size})
    failing.fail_at = 6  # the third batch's vectors, after its markers and two batches
    with pytest.raises(RuntimeError, match="injected") as info:
        _swap(ChromaWriter(failing), tmp_path / "l", ids, base, _texts(failing))
    assert any("rolled back" in note for note in info.value.__notes__)
    assert failing.largest("get", "update") == SMALL
    rows, metas = _held(col, ids)
    np.testing.assert_array_equal(rows, base)
    assert metas == [{"n": n} for n in range(N)]
    assert NudgeLedger(tmp_path / "l").op is None
