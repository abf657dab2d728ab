"""Every compared method, fitted on one (train, val) pair and served the same way.

A method yields a :class:`Served`: the record vectors to search (inner product, exact)
and how it turns a query set into query vectors. Timings are wall clock on this machine:
``fit_s`` is the fit (gamma search included), ``embed_s`` the re-embedding a method
needs on top of the base vectors that every method shares (only full fine-tuning has
one). The base vectors themselves are precomputed (``../shared/data/scifact-minilm``).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from benchmarks.paper.adapter import LinearAdapter, train_adapter_lr_grid
from benchmarks.paper.data import Queries, SciFact, score
from benchmarks.paper.full_finetune import FullFinetune, full_finetune
from nudge_integrations import NudgeM, NudgeN

QueryFn = Callable[[Queries], NDArray[np.float32]]

#: Adapter search settings (the smoke run shrinks them).
ADAPTER: dict[str, Any] = {"lrs": (3e-4, 1e-3, 3e-3), "max_epochs": 100}


def _base_queries(q: Queries) -> NDArray[np.float32]:
    return q.vectors


@dataclass
class Served:
    """A fitted method: what to search, how queries become vectors, what it cost."""

    name: str
    corpus: NDArray[np.float32]
    queries: QueryFn = _base_queries
    fit_s: float = 0.0
    embed_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, sets: dict[str, Queries]) -> dict[str, dict[str, float]]:
        return {name: score(self.queries(q), self.corpus, q.relevant) for name, q in sets.items()}


def no_finetuning(data: SciFact) -> Served:
    return Served("no fine-tuning", data.corpus)


def nudge(
    name: str,
    corpus: NDArray[np.float32],
    train_q: NDArray[np.float32],
    train: Queries,
    val_q: NDArray[np.float32] | None,
    val: Queries | None,
    variant: str,
    queries: QueryFn = _base_queries,
    **params: Any,
) -> Served:
    """Our NudgeN / NudgeM with ``params``; ``val_q=None`` leaves the estimator to hold out."""
    cls = NudgeN if variant == "N" else NudgeM
    start = time.perf_counter()
    if val is None or val_q is None:
        est = cls(device="cpu", **params).fit(corpus, train_q, train.rows())
    else:
        est = cls(device="cpu", **params).fit(corpus, train_q, train.rows(), val_q, val.rows())
    vectors = est.nudged_embeddings(corpus)
    fit_s = time.perf_counter() - start
    info = {"gamma": est.gamma_, "moved": len(est.moved_ids_)}
    return Served(name, vectors, queries, fit_s=fit_s, info=info)


def reference_nudge(data: SciFact, train: Queries, val: Queries, variant: str) -> Served:
    """The authors' ``nudge-ft`` 0.1.2 (``NUDGEN`` / ``NUDGEM``), default settings."""
    import nudge as nudge_ft

    cls = nudge_ft.NUDGEN if variant == "N" else nudge_ft.NUDGEM
    tr = {"q_embs": train.vectors, "q_ans_indx": train.rows()}
    va = {"q_embs": val.vectors, "q_ans_indx": val.rows()}
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
        out = cls(device=torch.device("cpu")).finetune_embeddings(data.corpus, tr, va)
    fit_s = time.perf_counter() - start
    return Served(f"nudge-ft 0.1.2 NUDGE-{variant}", np.asarray(out, np.float32), fit_s=fit_s)


def adapter(data: SciFact, train: Queries, val: Queries) -> tuple[Served, LinearAdapter]:
    ad = train_adapter_lr_grid(data.corpus, train, val, **ADAPTER)
    served = Served(
        "linear query adapter",
        data.corpus,
        lambda q: ad(q.vectors),
        fit_s=ad.fit_s,
        info={"lr": ad.lr, "best_epoch": ad.best_epoch, "epochs": ad.epochs},
    )
    return served, ad


def adapter_plus_nudge(
    data: SciFact, train: Queries, val: Queries, ad: LinearAdapter, variant: str, **params: Any
) -> Served:
    """NUDGE fitted with adapted queries on the base records; served adapted queries."""
    served = nudge(
        f"adapter + NUDGE-{variant}",
        data.corpus,
        ad(train.vectors),
        train,
        ad(val.vectors),
        val,
        variant,
        queries=lambda q: ad(q.vectors),
        **params,
    )
    served.fit_s += ad.fit_s
    served.info["adapter_fit_s"] = ad.fit_s
    return served


def full_ft(
    data: SciFact, train: Queries, val: Queries, box_s: float, log: Callable[[str], None]
) -> tuple[Served, FullFinetune]:
    ft = full_finetune(data, train, val, box_s=box_s, log=log)
    cache: dict[int, NDArray[np.float32]] = {}

    def queries(q: Queries) -> NDArray[np.float32]:
        if ft.best_step == 0:
            return q.vectors
        key = id(q)
        if key not in cache:
            cache[key] = ft.embed_queries(q.texts)
        return cache[key]

    served = Served(
        "full fine-tune (MiniLM, MNRL)",
        ft.corpus,
        queries,
        fit_s=ft.train_s,
        embed_s=ft.embed_s,
        info={
            "box_s": box_s,
            "steps": ft.steps,
            "best_step": ft.best_step,
            "epochs": round(ft.epochs, 2),
            "history": ft.history,
        },
    )
    return served, ft


def fit_all(
    data: SciFact,
    train: Queries,
    val: Queries,
    *,
    ft_box_s: float,
    reference: bool = True,
    log: Callable[[str], None] = print,
) -> list[Served]:
    """Every method on one split, in one process: the side-by-side comparison."""
    out = [no_finetuning(data)]
    for variant in ("N", "M"):
        out.append(
            nudge(f"NUDGE-{variant}", data.corpus, train.vectors, train, val.vectors, val, variant)
        )
        log(f"{out[-1].name}: gamma {out[-1].info['gamma']:.4g}, {out[-1].fit_s:.2f} s")
    for variant in ("N", "M"):  # the improvement the adapters default to
        out.append(
            nudge(
                f"NUDGE-{variant} + val refit (adapters' default)",
                data.corpus,
                train.vectors,
                train,
                val.vectors,
                val,
                variant,
                refit_with_validation=True,
            )
        )
    if reference:
        for variant in ("N", "M"):
            out.append(reference_nudge(data, train, val, variant))
            log(f"{out[-1].name}: {out[-1].fit_s:.2f} s")
    served, ad = adapter(data, train, val)
    out.append(served)
    log(f"adapter: lr {ad.lr}, best epoch {ad.best_epoch}/{ad.epochs}, {ad.fit_s:.1f} s")
    for variant in ("N", "M"):
        out.append(adapter_plus_nudge(data, train, val, ad, variant))
        log(f"{out[-1].name}: gamma {out[-1].info['gamma']:.4g}")
    if ft_box_s > 0:
        served, _ = full_ft(data, train, val, ft_box_s, log)
        out.append(served)
    return out
