"""Ours against the reference on SciFact (MiniLM embeddings, the NUDGE paper's split)."""

from __future__ import annotations

import argparse
import functools
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.fit.problem import Problem, fit_ours
from benchmarks.fit.reference import (
    max_abs_diff,
    reference_available,
    reference_gamma,
    run_reference,
)
from benchmarks.fit.timing import log, timed

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
SCIFACT_EMB = SHARED_DATA / "scifact-minilm"
SCIFACT_BEIR = SHARED_DATA / "scifact-beir.tar.gz"

Split = tuple[NDArray[np.float32], list[list[int]]]


def load() -> tuple[NDArray[np.float32], dict[str, Split], dict[str, int]]:
    """SciFact's corpus vectors, (queries, relevant rows) per split, and split sizes."""
    from nudge_integrations.data import load_beir, paper_split

    corpus = np.load(SCIFACT_EMB / "corpus.npy")
    queries = np.load(SCIFACT_EMB / "queries.npy")
    cpos = {c: i for i, c in enumerate(json.loads((SCIFACT_EMB / "corpus_ids.json").read_text()))}
    qpos = {q: i for i, q in enumerate(json.loads((SCIFACT_EMB / "query_ids.json").read_text()))}
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(SCIFACT_BEIR) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # Python without extraction filters; the archive is the trusted BEIR copy
                tar.extractall(tmp)
        parts = paper_split(load_beir(Path(tmp) / "scifact"))
    splits: dict[str, Split] = {}
    for name in ("train", "val", "test"):
        qs = parts[name].query_ids
        rel = [[cpos[d] for d in parts[name].relevant_docs[q]] for q in qs]
        splits[name] = (np.ascontiguousarray(queries[[qpos[q] for q in qs]]), rel)
    return corpus, splits, {k: len(parts[k]) for k in ("train", "val", "test")}


def reference_row(
    variant: str, p: Problem, ours_vecs: NDArray[np.float32], ours_s: float, args: Any
) -> tuple[dict[str, Any], NDArray[np.float32]]:
    """The reference's timing, gamma and parity with ours; also its vectors."""
    rtimes, ref = timed(
        functools.partial(run_reference, variant, p),
        args.scifact_repeats,
        max_runs=3 * args.scifact_repeats,
        max_wait=args.max_wait,
    )
    row = {
        "reference_seconds": rtimes.value,
        "reference_all": rtimes.seconds,
        "reference_others_cpu_share": rtimes.others_cpu_share,
        "reference_n_clean": len(rtimes.clean),
        "speedup_ref_over_ours": rtimes.value / ours_s,
        "reference_gamma": reference_gamma(variant, p, ref),
    }
    return row, ref


def bench_scifact(args: argparse.Namespace) -> dict[str, Any]:
    """Fit time of ours and the reference on SciFact, with test NDCG@10 of each."""
    if not (SCIFACT_EMB / "corpus.npy").is_file() or not SCIFACT_BEIR.is_file():
        return {"skipped": f"SciFact data not found under {SHARED_DATA}"}
    from nudge_integrations.core.report import evaluate_embeddings

    corpus, splits, sizes = load()
    (tq, tr), (vq, vr), (sq, sr) = splits["train"], splits["val"], splits["test"]
    p = Problem(corpus, tq, tr, vq, vr)
    res: dict[str, Any] = {"n": int(corpus.shape[0]), "split": sizes}
    res["repeats"] = args.scifact_repeats

    def ndcg(vectors: NDArray[np.float32]) -> float:
        scores = evaluate_embeddings(sq, vectors, sr, similarity="dot", device="cpu")
        return float(scores["ndcg@10"])

    res["baseline_ndcg10"] = ndcg(corpus)
    why_not = "--skip-reference was given" if args.skip_reference else reference_available()
    for variant in ("N", "M"):
        log(f"SciFact: NUDGE-{variant}")
        times, est = timed(
            functools.partial(fit_ours, variant, p),
            args.scifact_repeats,
            max_runs=3 * args.scifact_repeats,
            max_wait=args.max_wait,
        )
        ours_vecs = est.nudged_embeddings(corpus)
        row: dict[str, Any] = {
            "ours_seconds": times.value,
            "ours_all": times.seconds,
            "ours_others_cpu_share": times.others_cpu_share,
            "ours_n_clean": len(times.clean),
            "ours_gamma": est.gamma_,
            "ours_ndcg10": ndcg(ours_vecs),
        }
        if why_not:
            row["reference_skipped"] = why_not
        else:
            ref_row, ref = reference_row(variant, p, ours_vecs, times.value, args)
            ref_row["reference_ndcg10"] = ndcg(ref)
            ref_row["max_abs_diff_vs_ours"] = max_abs_diff(ours_vecs, ref)
            row.update(ref_row)
        res[variant] = row
    return res
