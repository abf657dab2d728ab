"""The fits a case makes, through each framework's public API, and the checks of what a
store holds afterwards."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from numpy.typing import NDArray

from production.data import Problem
from production.handle import Handle

#: Untouched records read back after each operation, to see that they stayed as they were.
UNTOUCHED_SAMPLE = 2_000
#: A nudged vector read back is compared within float32 rounding, as the package does.
NUDGED_TOL = 2e-6


def _qa(pairs: list[tuple[str, list[str]]], tag: str, p: Problem) -> Any:
    from nudge_integrations.data.dataset import QADataset

    named = list(dict.fromkeys(i for _, rel in pairs for i in rel))
    return QADataset(
        {f"{tag}{n}": q for n, (q, _) in enumerate(pairs)},
        p.corpus_of(named),
        {f"{tag}{n}": rel for n, (_, rel) in enumerate(pairs)},
    )


def fit(h: Handle, p: Problem, emb: Any, *, native: bool, recall_sample: int = 100) -> Any:
    """A NUDGE-N fit on ``h``'s store: LangChain ``NudgeFitter.fit`` or LlamaIndex
    ``NudgeFinetuneEngine(...).finetune()``, reading the store or store-native."""
    if h.lc:
        from nudge_integrations.langchain import NudgeFitter

        fitter = NudgeFitter(emb, device="cpu")
        return fitter.fit(h.obj, p.train, val=p.val, ledger=h.ledger, native=native,
                          recall_sample=recall_sample)  # fmt: skip
    from nudge_integrations.llama_index import NudgeFinetuneEngine

    engine = NudgeFinetuneEngine(
        _qa(p.train, "t", p),
        emb,
        corpus=h.obj,
        val_dataset=_qa(p.val, "v", p),
        native=native,
        ledger=h.ledger,
        device="cpu",
        recall_sample=recall_sample,
    )
    engine.finetune()
    return engine


def nudged(fitted: Any) -> dict[str, NDArray[np.float32]]:
    """The fit's moved records' vectors, by id."""
    return {str(k): np.asarray(v, np.float32) for k, v in fitted.nudged_vectors().items()}


def compare(a: dict[str, NDArray[np.float32]], b: dict[str, NDArray[np.float32]]) -> dict[str, Any]:
    """Whether two fits moved the same records, and how far apart their vectors are."""
    same = set(a) == set(b)
    diff = max((float(np.abs(a[i] - b[i]).max()) for i in a), default=0.0) if same else None
    return {"same_moved_ids": same, "max_abs_diff": diff}


def check(
    h: Handle,
    p: Problem,
    expect: dict[str, NDArray[np.float32]],
    tol: float,
    marked: set[str] | None,
    seed: int = 0,
) -> dict[str, Any]:
    """Read ``expect``'s records and a sample of the others back: the largest difference
    from what each should hold (``expect``, else its base), how many exceed ``tol``, and
    whether the nudge markers sit on exactly ``marked`` (stores that keep markers)."""
    from nudge_integrations.stores.base import KeepsMarkers, StoreWriter
    from nudge_integrations.stores.lifecycle import read_markers

    at = {i: n for n, i in enumerate(p.ids)}
    rest = [i for i in random.Random(seed).sample(p.ids, UNTOUCHED_SAMPLE) if i not in expect]
    ids = list(expect) + rest
    writer = h.writer()
    got = writer.read(ids)
    want = {**{i: p.base[at[i]] for i in rest}, **expect}
    diffs = np.array([float(np.abs(got[i] - want[i]).max()) if i in got else np.inf for i in ids])
    out: dict[str, Any] = {
        "records_checked": len(ids),
        "missing": int(sum(i not in got for i in ids)),
        "max_abs_diff": float(diffs.max()),
        "bit_exact": bool((diffs == 0).all()),
        "over_tolerance": int((diffs > tol).sum()),
        "tolerance": tol,
    }
    if marked is not None and isinstance(writer, KeepsMarkers) and isinstance(writer, StoreWriter):
        found = set(read_markers(writer, ids))
        out["markers_exact"] = found == (marked & set(ids))
    out["ok"] = (
        out["over_tolerance"] == 0 and out["missing"] == 0 and out.get("markers_exact", True)
    )
    return out


def base_of(p: Problem, ids: list[str]) -> dict[str, NDArray[np.float32]]:
    """The base vectors of ``ids``."""
    at = {i: n for n, i in enumerate(p.ids)}
    return {i: p.base[at[i]] for i in ids}


def save_vectors(path: Any, vectors: dict[str, NDArray[np.float32]]) -> None:
    ids = list(vectors)
    np.savez(path, ids=np.asarray(ids), vectors=np.stack([vectors[i] for i in ids]))


def load_vectors(path: Any) -> dict[str, NDArray[np.float32]]:
    got = np.load(path)
    return {str(i): v for i, v in zip(got["ids"], got["vectors"], strict=True)}
