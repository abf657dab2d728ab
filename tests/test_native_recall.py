"""A store-native fit on an approximate index measures and reports the store's recall:
Chroma's HNSW (and Milvus Lite's) against exact numpy top-k over the stored vectors, no
recall pass on an exact FAISS flat index or with ``recall_sample=0``, vectors streamed
in bounded batches; Qdrant local mode searched chunk by chunk in bounded memory."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from nudge_integrations.core import NudgeN, SourceCompetitors, fit_by_id
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.core.sources import SCAN_BATCH
from nudge_integrations.stores.chroma import ChromaWriter
from nudge_integrations.stores.faiss import FaissFlatWriter
from nudge_integrations.stores.milvus import MilvusWriter
from nudge_integrations.stores.native_fit import fit_store
from nudge_integrations.stores.qdrant import QdrantLocalWriter, QdrantWriter, qdrant_writer
from nudge_integrations.stores.qdrant import writer as qdrant_module
from nudge_integrations.stores.recall import exact_ids

N, D, K = 3000, 32, 3


@pytest.fixture(scope="module")
def problem() -> dict[str, Any]:
    """Unit-norm clustered records and queries near (not at) their relevant records."""
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((30, D)).astype(np.float32)
    x = centres[rng.integers(0, 30, N)] + 0.9 * rng.standard_normal((N, D)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [str(i) for i in range(N)]
    pool = rng.choice(N, 400, replace=False)

    def queries(m: int) -> tuple[NDArray[np.float32], list[list[str]]]:
        rel = pool[rng.integers(0, len(pool), m)]
        q = x[rel] + 0.4 * rng.standard_normal((m, D)).astype(np.float32)
        return q.astype(np.float32), [[ids[r]] for r in rel]

    tq, tr = queries(300)
    vq, vr = queries(120)
    return {"x": x, "ids": ids, "tq": tq, "tr": tr, "vq": vq, "vr": vr}


class Recording:
    """Keeps what a real writer's search answered and the batches its scan yielded."""

    answers: list[tuple[NDArray[np.float32], list[list[str]]]]
    batches: list[int]

    def nearest(self, queries: NDArray[np.float32], limit: int) -> list[list[str]]:
        got: list[list[str]] = super().nearest(queries, limit)  # type: ignore[misc]
        self.answers.append((np.array(queries), got))
        return got

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        for ids, vecs in super().scan(batch):  # type: ignore[misc]
            self.batches.append(len(ids))
            yield ids, vecs


class RecordingChroma(Recording, ChromaWriter):
    def __init__(self, collection: Any) -> None:
        super().__init__(collection)
        self.answers, self.batches = [], []


class RecordingMilvus(Recording, MilvusWriter):
    def __init__(self, client: Any, collection: str, **kw: Any) -> None:
        super().__init__(client, collection, **kw)
        self.answers, self.batches = [], []


def _chroma(problem: dict[str, Any], name: str, sparse: bool = True) -> RecordingChroma:
    import chromadb

    hnsw: dict[str, Any] = {"space": "cosine"}
    if sparse:  # a thin graph searched narrowly: recall well below 1
        hnsw.update(ef_search=4, max_neighbors=4, ef_construction=8)
    client = chromadb.EphemeralClient()
    config: Any = {"hnsw": hnsw}
    col = client.create_collection(f"{name}-{uuid.uuid4().hex[:8]}", configuration=config)
    x, ids = problem["x"], problem["ids"]
    for start in range(0, N, 1000):
        col.add(ids=ids[start : start + 1000], embeddings=x[start : start + 1000])
    return RecordingChroma(col)


def _store_answers(writer: Recording, q: NDArray[np.float32]) -> list[list[str]]:
    """Per query, the store's last answer for it (widened searches come later)."""
    out: list[list[str]] = [[] for _ in range(len(q))]
    for asked, got in writer.answers:
        for a, ans in zip(asked, got, strict=True):
            hit = np.flatnonzero((q == a).all(axis=1))
            for i in hit:
                out[int(i)] = ans
    return out


def _independent_recall(
    x: NDArray[np.float32],
    ids: Sequence[str],
    q: NDArray[np.float32],
    answers: Sequence[Sequence[str]],
    touched: set[str],
    k: int,
) -> float:
    """Exact numpy cosine top-k outside the touched ids against the store's first k
    answers outside them."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    scores = q @ unit.T
    scores[:, [i for i, key in enumerate(ids) if key in touched]] = -np.inf
    exact = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    shares = []
    for row, ans in zip(exact, answers, strict=True):
        want = {ids[r] for r in row}
        got = [a for a in ans if a not in touched][:k]
        shares.append(len(want & set(got)) / len(want))
    return float(np.mean(shares))


def _recall(est: Any) -> float | None:
    """The recall a native fit recorded on its estimator (set by ``fit_by_id``)."""
    value: float | None = est.index_recall_
    return value


def _touched(problem: dict[str, Any]) -> set[str]:
    """What a fit leaves out of the store's search: the named records (touched ones, and
    the validation queries' relevant ones, which it scores from vectors in hand)."""
    return {r for rel in [*problem["tr"], *problem["vr"]] for r in rel}


def test_chroma_recall_is_measured_and_equals_an_independent_count(problem: dict[str, Any]) -> None:
    writer = _chroma(problem, "recall")
    est = fit_store(NudgeN(k=K), writer, problem["tq"], problem["tr"], problem["vq"],
                    problem["vr"], recall_sample=40)  # fmt: skip
    vq = problem["vq"]
    rows = np.unique(np.linspace(0, len(vq) - 1, 40).round().astype(int))
    assert len(rows) == 40
    answers = _store_answers(writer, vq)
    want = _independent_recall(
        problem["x"], problem["ids"], vq[rows], [answers[r] for r in rows], _touched(problem), K
    )
    assert 0.1 < want < 0.95  # the thin graph misses neighbours: the check has teeth
    assert _recall(est) == pytest.approx(want, abs=1e-12)
    note = next(n for n in est.result_.notes if "approximate index" in n)
    assert f"recall@{K} {want:.3f} on 40 of 120 validation queries" in note
    assert f"outside the {len(_touched(problem))} records the fit" in note
    assert f"exact scan of the {N:,} records" in note
    # every stored vector was streamed once, in batches of at most the default size
    assert sum(writer.batches) == N and max(writer.batches) <= SCAN_BATCH

    # all the validation queries, and a well-built graph: recall close to 1, still exact
    good = _chroma(problem, "good", sparse=False)
    est = fit_store(NudgeN(k=K), good, problem["tq"], problem["tr"], problem["vq"],
                    problem["vr"], recall_sample=10_000)  # fmt: skip
    want = _independent_recall(
        problem["x"], problem["ids"], vq, _store_answers(good, vq), _touched(problem), K
    )
    assert want > 0.9 and _recall(est) == pytest.approx(want, abs=1e-12)


def test_recall_sample_zero_turns_it_off(problem: dict[str, Any]) -> None:
    writer = _chroma(problem, "off")
    est = fit_store(NudgeN(k=K), writer, problem["tq"], problem["tr"], problem["vq"],
                    problem["vr"], recall_sample=0)  # fmt: skip
    assert writer.batches == [] and _recall(est) is None
    assert any("not measured: recall_sample=0" in n for n in est.result_.notes)
    with pytest.raises(NudgeError, match="recall_sample must be >= 0"):
        fit_store(NudgeN(k=K), writer, problem["tq"], problem["tr"], problem["vq"],
                  problem["vr"], recall_sample=-1)  # fmt: skip


def test_the_scan_streams_bounded_batches(problem: dict[str, Any]) -> None:
    """Memory is bounded structurally: the store's vectors come ``scan_batch`` at a time,
    each batch scored and dropped, and the answer is the same as one big batch."""
    writer = _chroma(problem, "batches")
    touched = sorted({r for rel in problem["tr"] for r in rel})
    local = [*touched, *problem["ids"][:5]]
    exclude = np.zeros(len(local), dtype=bool)
    exclude[: len(touched)] = True
    q = torch.from_numpy(problem["vq"][:30])
    small = SourceCompetitors(writer, local, recall_sample=30, scan_batch=256)
    small.topk(q, K, exclude)
    assert max(writer.batches) == 256 and len(writer.batches) == -(-N // 256)
    writer.batches.clear()
    whole = SourceCompetitors(writer, local, recall_sample=30, scan_batch=N)
    whole.topk(q, K, exclude)
    assert writer.batches == [N]
    assert small.recall is not None and whole.recall is not None
    assert small.recall.exact == whole.recall.exact and small.recall.value == whole.recall.value


class CountingFaiss(FaissFlatWriter):
    """A real flat FAISS writer that counts every way its records could be streamed."""

    scans = 0

    def all_ids(self) -> list[str]:
        CountingFaiss.scans += 1
        return super().all_ids()

    def scan(self, batch: int) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        CountingFaiss.scans += 1
        yield from ()


def test_an_exact_store_pays_no_recall_pass(problem: dict[str, Any]) -> None:
    import faiss

    index = faiss.IndexFlatIP(D)
    index.add(problem["x"])
    writer = CountingFaiss(index, {key: i for i, key in enumerate(problem["ids"])})
    est = fit_by_id(NudgeN(k=K), writer, problem["tq"], problem["tr"], problem["vq"],
                    problem["vr"], recall_sample=10_000)  # fmt: skip
    assert CountingFaiss.scans == 0 and _recall(est) is None
    assert not any("approximate" in n for n in est.result_.notes)


class ReadCounting(FaissFlatWriter):
    """A real flat FAISS writer that keeps the size of every read."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.reads: list[int] = []

    def read(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        self.reads.append(len(ids))
        return super().read(ids)


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_exact_ids_streams_and_ranks_by_the_store_metric(metric: str) -> None:
    """``index_recall``'s exact side: streamed in batches, ranked as the index ranks
    (inner product or L2 over vectors that are not unit-norm), equal to numpy's."""
    import faiss

    rng = np.random.default_rng(8)
    scale = rng.uniform(0.5, 2, (1000, 1)).astype(np.float32)
    x: NDArray[np.float32] = rng.standard_normal((1000, 16)).astype(np.float32) * scale
    index = faiss.IndexFlatIP(16) if metric == "ip" else faiss.IndexFlatL2(16)
    index.add(x)
    ids = [f"r{i}" for i in range(1000)]
    writer = ReadCounting(index, {key: i for i, key in enumerate(ids)})
    q = rng.standard_normal((7, 16)).astype(np.float32)
    got = exact_ids(writer, q, 10, batch=97)
    assert max(writer.reads) == 97 and sum(writer.reads) == 1000
    if metric == "ip":
        order = np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :10]
    else:
        dist = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        order = np.argsort(dist, axis=1, kind="stable")[:, :10]
    assert got == [[ids[r] for r in row] for row in order]
    _, faiss_rows = index.search(q, 10)
    assert got == [[ids[r] for r in row] for row in faiss_rows]
    with pytest.raises(NudgeError, match="query vectors have 3 dimensions"):
        exact_ids(writer, q[:, :3], 10)


@pytest.mark.slow
def test_milvus_hnsw_recall_is_reported(problem: dict[str, Any], tmp_path: Path) -> None:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(tmp_path / "m.db"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=D)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="HNSW", metric_type="COSINE",
                     params={"M": 4, "efConstruction": 8})  # fmt: skip
    client.create_collection("c", schema=schema, index_params=params)
    x, ids = problem["x"], problem["ids"]
    client.insert("c", [{"id": ids[i], "vector": x[i]} for i in range(N)])
    client.flush("c")
    writer = RecordingMilvus(client, "c", id_field="id", vector_field="vector", metric="COSINE")
    assert not writer.exact
    assert sum(len(i) for i, _ in writer.scan(700)) == N and max(writer.batches) == 700
    writer.batches.clear()
    est = fit_store(NudgeN(k=K), writer, problem["tq"], problem["tr"], problem["vq"],
                    problem["vr"], recall_sample=10_000)  # fmt: skip
    answers = _store_answers(writer, problem["vq"])
    want = _independent_recall(x, ids, problem["vq"], answers, _touched(problem), K)
    assert _recall(est) == pytest.approx(want, abs=1e-12)
    assert any(f"recall@{K} {want:.3f} on 120 of 120" in n for n in est.result_.notes)
    client.close()


# --------------------------------------------------------------- Qdrant local mode
def _qdrant(x: NDArray[np.float32], distance: str, name: str = "") -> QdrantWriter:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(location=":memory:")
    params = models.VectorParams(size=x.shape[1], distance=models.Distance(distance))
    client.create_collection("c", vectors_config={name: params} if name else params)
    vectors = [{name: v.tolist()} if name else v.tolist() for v in x]
    client.upsert("c", points=[models.PointStruct(id=i, vector=v) for i, v in enumerate(vectors)])
    return qdrant_writer(client, "c", vector_name=name)


def _own_search(writer: QdrantWriter, q: NDArray[np.float32], k: int, skip: set[str]) -> Any:
    """Local mode's own search (the client's query, filter and all)."""
    from qdrant_client import models

    flt = models.Filter(must_not=[models.HasIdCondition(has_id=[int(i) for i in skip])])
    return [
        [str(p.id) for p in writer.client.query_points(
            "c", query=v.tolist(), limit=k, query_filter=flt if skip else None,
            using=writer.vector_name or None, with_payload=False).points]
        for v in q
    ]  # fmt: skip


@pytest.mark.parametrize(("distance", "name"), [("Cosine", ""), ("Dot", "dense")])
def test_qdrant_local_scan_equals_its_own_search(distance: str, name: str) -> None:
    from qdrant_client import models

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2500, 24)).astype(np.float32)
    writer = _qdrant(x, distance, name)
    writer.client.delete("c", points_selector=models.PointIdsList(points=[5, 17, 900]))
    q = rng.standard_normal((12, 24)).astype(np.float32)
    skip = {str(i) for i in range(0, 2500, 7)}
    assert isinstance(writer, QdrantLocalWriter)  # one masked pass, no over-fetching
    assert writer.nearest_outside(q, 15, skip) == _own_search(writer, q, 15, skip)
    got = writer.nearest(q, 15)
    assert got == _own_search(writer, q, 15, set())
    assert not {"5", "17", "900"} & {i for row in got for i in row}


def test_qdrant_local_l2_keeps_its_own_search() -> None:
    x = np.random.default_rng(4).standard_normal((300, 8)).astype(np.float32)
    writer = _qdrant(x, "Euclid")
    # over-fetching through local mode's own search: the writer leaves no ids out itself
    assert type(writer) is QdrantWriter and not hasattr(writer, "nearest_outside")
    q = x[:3] + 0.01
    assert [row[0] for row in writer.nearest(q, 5)] == ["0", "1", "2"]


@pytest.mark.slow
def test_qdrant_local_search_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """One query through local mode's own search holds about two float64-cast copies of
    the collection; the chunked scan holds one chunk, whatever the collection holds."""
    x = np.random.default_rng(5).standard_normal((40_000, 128)).astype(np.float32)
    writer = _qdrant(x, "Cosine")
    monkeypatch.setattr(qdrant_module, "LOCAL_CHUNK_BYTES", 1 << 20)
    q = x[:1] + 0.1
    size = x.nbytes

    def peak(fn: Any) -> int:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    own = peak(lambda: _own_search(writer, q, 20, set()))
    ours = peak(lambda: writer.nearest(q, 20))
    assert own > 1.5 * size  # the client's search: a corpus-sized float64 cast
    assert ours < 0.15 * size
    assert writer.nearest(q, 20) == _own_search(writer, q, 20, set())
