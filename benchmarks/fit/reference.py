"""The reference ``nudge-ft`` 0.1.2 side by side with ours: its run, its gamma read back from
its output, how far its vectors are from ours, and whether a size fits its budget."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from benchmarks.fit.memory import GB
from benchmarks.fit.problem import DIM, Problem, touched_rows
from nudge_integrations import NudgeM, NudgeN

PARITY_ATOL = 1e-5  # the tolerance of tests/test_reference_parity.py
N_GRID = tuple(0.02 * i for i in range(25))  # the reference NUDGE-N gamma grid

#: Skip the reference at a size whose extrapolated run exceeds either budget.
REF_TIME_BUDGET_S = 600.0
REF_MEM_BUDGET_GB = 20.0


def run_reference(variant: str, p: Problem) -> NDArray[np.float32]:
    import nudge  # the reference nudge-ft 0.1.2, a dev-only dependency

    cls = nudge.NUDGEN if variant == "N" else nudge.NUDGEM
    train = {"q_embs": p.train_q, "q_ans_indx": p.train_rel}
    val = {"q_embs": p.val_q, "q_ans_indx": p.val_rel}
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
        out: NDArray[np.float32] = cls(device=torch.device("cpu")).finetune_embeddings(
            p.corpus, train, val
        )
    return out


def reference_available() -> str | None:
    """None when nudge-ft can be imported, else why not."""
    try:
        import nudge  # noqa: F401
    except ImportError as exc:
        return f"nudge-ft is not installed ({exc})"
    return None


def normalized(x: NDArray[np.float32]) -> NDArray[np.float32]:
    t = torch.nn.functional.normalize(torch.from_numpy(np.ascontiguousarray(x)), dim=1)
    return t.numpy()


def reference_gamma_n(p: Problem, ref: NDArray[np.float32]) -> dict[str, Any]:
    """The grid gamma the reference used, read back from its output and checked.

    Every touched row the reference moves to the cap's edge has ``e' . e = 1 - gamma/2``;
    rows moved to ``g_hat`` lie inside the cap (``e' . e >= 1 - gamma/2``), untouched and
    frozen rows keep ``e``. So ``max 2 (1 - e' . e)`` over touched rows is gamma up to
    float rounding; it is snapped to the reference grid, then the reference's own closed
    form (``NUDGEN._sol_maxm``) at that gamma is compared with its output on those rows.
    """
    import nudge

    rows = touched_rows(p)
    e = torch.nn.functional.normalize(torch.from_numpy(p.corpus[rows]), dim=1)
    out = torch.from_numpy(ref[rows])
    raw = float((2.0 * (1.0 - (out * e).sum(dim=1))).max()) if len(rows) else 0.0
    gamma = min(N_GRID, key=lambda g: abs(g - raw))
    g = torch.zeros_like(e)
    pos = {int(r): i for i, r in enumerate(rows.tolist())}
    for q, rel in zip(p.train_q, p.train_rel, strict=True):
        for x in rel:
            g[pos[x]] += torch.from_numpy(q)
    vtc = (g * e).sum(dim=-1)
    ctc = (g * g).sum(dim=-1)
    zero = torch.nonzero(torch.logical_or(ctc - vtc**2 == 0, vtc < 0)).reshape(-1)
    solver = nudge.NUDGEN(device=torch.device("cpu"))
    check = solver._sol_maxm(gamma, e, vtc, ctc, g, zero)
    err = float((check - out).abs().nan_to_num(nan=float("inf")).max()) if len(rows) else 0.0
    return {"gamma": gamma, "raw_estimate": raw, "closed_form_check_max_abs": err}


def reference_gamma_m(p: Problem, ref: NDArray[np.float32]) -> dict[str, Any]:
    """The reference NUDGE-M gamma, read back from its output: ``e' - e = gamma g_hat``."""
    rows = touched_rows(p)
    e = normalized(p.corpus[rows])
    norms = np.linalg.norm(ref[rows] - e, axis=1)
    moved = norms[norms > 0]
    if len(moved) == 0:
        return {"gamma": 0.0, "spread": 0.0}
    return {"gamma": float(np.median(moved)), "spread": float(moved.max() - moved.min())}


def reference_gamma(variant: str, p: Problem, ref: NDArray[np.float32]) -> dict[str, Any]:
    """The reference's gamma for ``variant``, read back from its output."""
    return reference_gamma_n(p, ref) if variant == "N" else reference_gamma_m(p, ref)


def max_abs_diff(a: NDArray[np.float32], b: NDArray[np.float32], chunk: int = 65_536) -> float:
    worst = 0.0
    for start in range(0, a.shape[0], chunk):
        d = np.abs(a[start : start + chunk] - b[start : start + chunk])
        worst = max(worst, float(np.nan_to_num(d, nan=np.inf).max()))
    return worst


def score_gammas(variant: str, p: Problem, gammas: list[float]) -> dict[str, float]:
    """Validation hit@1 (our exact scoring) at each of ``gammas``, for a parity mismatch."""
    est = (
        NudgeN(gammas=gammas, device="cpu")
        if variant == "N"
        else NudgeM(gammas=gammas, device="cpu")
    )
    est.fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
    return {repr(g): est.curve_[g] for g in gammas if g in est.curve_}


def reference_plan(
    n: int, earlier: dict[int, dict[str, Any]], variant: str
) -> tuple[bool, dict[str, Any]]:
    """Whether to run the reference at ``n``, from this run's largest smaller measurement."""
    smaller = [m for m, r in earlier.items() if m < n and variant in r.get("reference", {})]
    if not smaller:
        return True, {"basis": "no smaller size measured in this run; running it"}
    m = max(smaller)
    ref = earlier[m]["reference"][variant]
    scale = n / m
    est_s = ref["seconds"] * scale
    growth = ref["memory"].get("peak_growth_gb")
    est_gb = None if growth is None else growth * scale + n * DIM * 4 / GB
    plan = {
        "basis": f"linear extrapolation from the reference run at n={m} in this run",
        "estimated_seconds": est_s,
        "estimated_peak_gb": est_gb,
        "time_budget_s": REF_TIME_BUDGET_S,
        "memory_budget_gb": REF_MEM_BUDGET_GB,
    }
    reasons = []
    if est_s > REF_TIME_BUDGET_S:
        reasons.append(f"estimated {est_s / 60:.1f} min > {REF_TIME_BUDGET_S / 60:.0f} min")
    if est_gb is not None and est_gb > REF_MEM_BUDGET_GB:
        reasons.append(
            f"estimated peak {est_gb:.1f} GB (corpus + {growth * scale:.1f} GB working set)"
            f" > {REF_MEM_BUDGET_GB:.0f} GB"
        )
    if reasons:
        plan["skipped"] = "; ".join(reasons)
        return False, plan
    return True, plan
