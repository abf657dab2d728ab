"""``docs/paper-comparison.md`` and its plots, generated from ``benchmarks/results/paper.json``.

Every number on the page comes from the results file of the run; rerun the benchmark
(``python -m benchmarks.paper.run``) to regenerate both, or only the page with
``python -m benchmarks.paper.report``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PAGE = "paper-comparison.md"
IMG = "img"
METRICS = ("ndcg@10", "recall@1", "recall@10", "mrr@10")

# The paper's averages over 7 text datasets (bge-small-en-v1.5, NDCG@10), for context.
PAPER = {
    "no fine-tuning": 48.7,
    "linear query adaptor": 51.6,
    "full model fine-tune": 52.5,
    "NUDGE-M": 57.0,
    "NUDGE-N": 61.1,
}


def _f(x: float | None, nd: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{nd}f}"


def _secs(x: float) -> str:
    return "0" if x == 0 else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def _new_figure(w: float, h: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _plots(res: dict[str, Any], img: Path) -> list[str]:
    img.mkdir(parents=True, exist_ok=True)
    names = []
    main = res["main"]
    fig = _new_figure(7.5, 0.42 * len(main) + 1.2)
    ax = fig.add_subplot()
    labels = [r["method"] for r in main][::-1]
    vals = [r["metrics"]["test"]["ndcg@10"] for r in main][::-1]
    bars = ax.barh(labels, vals, color="#4c72b0")
    base = main[0]["metrics"]["test"]["ndcg@10"]
    ax.axvline(base, color="grey", ls="--", lw=1)
    for b, v in zip(bars, vals, strict=True):
        ax.text(v + 0.005, b.get_y() + b.get_height() / 2, f"{v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("test NDCG@10 (SciFact, MiniLM, paper split)")
    fig.tight_layout()
    fig.savefig(img / "paper-methods.png")
    names.append("paper-methods.png")

    fig = _new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    for r in main:
        t = r["fit_s"] + r["embed_s"]
        ax.scatter(max(t, 0.01), r["metrics"]["test"]["ndcg@10"], s=30)
        ax.annotate(
            r["method"],
            (max(t, 0.01), r["metrics"]["test"]["ndcg@10"]),
            fontsize=7,
            xytext=(4, 2),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_xlabel("wall time, s (fit + re-embedding; log scale; 0 shown at 0.01)")
    ax.set_ylabel("test NDCG@10")
    fig.tight_layout()
    fig.savefig(img / "paper-time.png")
    names.append("paper-time.png")

    rows = res["ood"]["rows"]
    fig = _new_figure(8, 4.2)
    ax = fig.add_subplot()
    x = range(len(rows))
    idv = [r["metrics"]["test ID"]["ndcg@10"] for r in rows]
    oodv = [r["metrics"]["test OOD"]["ndcg@10"] for r in rows]
    ax.bar([i - 0.2 for i in x], idv, 0.4, label="ID test queries", color="#4c72b0")
    ax.bar([i + 0.2 for i in x], oodv, 0.4, label="OOD test queries", color="#dd8452")
    ax.axhline(oodv[0], color="#dd8452", ls="--", lw=1)
    ax.axhline(idv[0], color="#4c72b0", ls="--", lw=1)
    ax.set_xticks(list(x))
    ax.set_xticklabels([r["method"] for r in rows], rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test NDCG@10")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(img / "paper-ood.png")
    names.append("paper-ood.png")
    return names


def _main_table(res: dict[str, Any]) -> list[str]:
    out = [
        "| method | NDCG@10 | R@1 | R@10 | MRR@10 | val NDCG@10 | fit, s | re-embed, s | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["main"]:
        t, v = r["metrics"]["test"], r["metrics"]["val"]
        info = r["info"]
        seen = " (fitted on)" if "val refit" in r["method"] else ""
        note = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()
        )
        out.append(
            f"| {r['method']} | {_f(t['ndcg@10'])} | {_f(t['recall@1'])} | {_f(t['recall@10'])} "
            f"| {_f(t['mrr@10'])} | {_f(v['ndcg@10'])}{seen} | {_secs(r['fit_s'])} | "
            f"{_secs(r['embed_s'])} | {note} |"
        )
    return out


def _ood_table(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    rows = res["ood"]["rows"]
    base = rows[0]["metrics"]
    out = [
        "| method | ID NDCG@10 | ID R@1 | ID R@10 | ID MRR@10 | OOD NDCG@10 | OOD R@1 | OOD R@10 "
        "| OOD MRR@10 | OOD vs none |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    hurt = []
    for r in rows:
        i, o = r["metrics"]["test ID"], r["metrics"]["test OOD"]
        delta = o["ndcg@10"] - base["test OOD"]["ndcg@10"]
        flag = f"{delta:+.3f}" + (" **hurts**" if delta < 0 else "")
        if delta < 0:
            hurt.append(f"{r['method']} ({delta:+.3f})")
        out.append(
            f"| {r['method']} | "
            + " | ".join(_f(i[m]) for m in METRICS)
            + " | "
            + " | ".join(_f(o[m]) for m in METRICS)
            + f" | {flag} |"
        )
    return out, hurt


def _inc_table(inc: dict[str, Any]) -> list[str]:
    out = [
        "| method | earlier queries before insert (NDCG@10 / R@1 / R@10 / MRR@10) | after insert | "
        "change in NDCG@10 | queries about new records, after insert |",
        "|---|---|---|---|---|",
    ]
    for r in inc["rows"]:
        b, a, n = r["earlier_before"], r["earlier_after"], r["new_after"]
        out.append(
            f"| {r['method']} | "
            + " / ".join(_f(b[m]) for m in METRICS)
            + " | "
            + " / ".join(_f(a[m]) for m in METRICS)
            + f" | {a['ndcg@10'] - b['ndcg@10']:+.3f} | "
            + " / ".join(_f(n[m]) for m in METRICS)
            + " |"
        )
    return out


def _imp_table(rows: list[dict[str, Any]]) -> list[str]:
    by = {(r["variant"], r["candidate"]): r for r in rows}
    out = [
        "| variant | candidate | val NDCG@10 | test NDCG@10 | OOD split: ID | OOD split: OOD | "
        "compared with | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = by.get((r["variant"], r["baseline"]))

        def cell(k: str, r: dict[str, Any] = r, b: dict[str, Any] | None = b) -> str:
            return _f(r[k]) + ("" if b is None else f" ({r[k] - b[k]:+.3f})")

        out.append(
            f"| NUDGE-{r['variant']} | {r['candidate']} | {cell('val')} | {cell('test')} | "
            f"{cell('ood_id')} | {cell('ood_ood')} | {r['baseline'] or '-'} | "
            f"{'**kept**' if r['verdict'] == 'kept' else r['verdict']} |"
        )
    return out


def _ft(res: dict[str, Any], rows: list[dict[str, Any]], label: str) -> str:
    r = next((r for r in rows if r["method"].startswith("full fine-tune")), None)
    if r is None:
        return f"- {label}: not run (`--ft-box 0`)."
    i = r["info"]
    hist = ", ".join(
        f"step {int(h['step'])}: {h['val_pool_ndcg@10']:.3f}" for h in (r["history"] or [])
    )
    return (
        f"- {label}: box {i['box_s']:.0f} s for training plus validation; {i['steps']} steps "
        f"({i['epochs']} epochs of batch 32) in {r['fit_s']:.0f} s; best checkpoint at step "
        f"{i['best_step']}; re-embedding the corpus with it {r['embed_s']:.0f} s. Validation "
        f"pool NDCG@10 by step: {hist}."
    )


def page(res: dict[str, Any], images: list[str]) -> str:
    m = res["machine"]
    main = {r["method"]: r for r in res["main"]}

    def nd(name: str, split: str = "test") -> str:
        r = main.get(name)
        return _f(r["metrics"][split]["ndcg@10"]) if r else "-"

    ood_lines, hurt = _ood_table(res)
    inc = res["incremental"]
    kept = [r for r in res["improvements"] if r["verdict"] == "kept"]
    lost = [r for r in res["improvements"] if r["verdict"] == "lost"]
    sec = ", ".join(f"{k} {v:.0f} s" for k, v in res["sections_s"].items())
    smoke = res.get("limit_queries")
    lines = [
        "# NUDGE next to the alternatives, and beyond the paper",
        "",
        "<!-- generated by benchmarks/paper/report.py from benchmarks/results/paper.json -->",
        "",
    ]
    if smoke:
        lines += [f"!!! warning\n    Smoke run on {smoke} queries per split: not results.", ""]
    lines += [
        "Which method should a user pick to adapt retrieval to their own labelled questions? "
        "Everything below was measured in one run, on SciFact (5,183 records), "
        "all-MiniLM-L6-v2 embeddings, the NUDGE paper's split "
        f"({res['sizes']['train']}/{res['sizes']['val']}/{res['sizes']['test']} "
        "train/val/test queries), exact inner-product search.",
        "",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, no GPU; "
        f"Python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads).",
        f"- **Command** (project root): `flock /tmp/nudge-cpu.lock {res['command'].strip()}` "
        f"— total wall time {res['total_s'] / 60:.1f} min ({sec}).",
        "- **Raw results**: `benchmarks/results/paper.json`; this page and its plots are "
        "regenerated from it.",
        "",
        "## The methods, side by side",
        "",
        *_main_table(res),
        "",
        "*(fitted on)*: the val-refit variants nudge with the validation queries, so their "
        "validation score is not a held-out number; the improvements section below judges "
        "them on held-out queries.",
        "",
        f"![test NDCG@10 by method](img/{images[0]})",
        "",
        "Time is wall clock on this machine. The base embeddings every method starts from "
        "are precomputed (`../shared/data/scifact-minilm`; embedding the corpus takes about "
        "4-6 minutes here), so they are not counted; *re-embed* is what a method adds "
        "because it changes the model. NUDGE and the adapter fit in seconds on the "
        "precomputed vectors; full fine-tuning is bounded by its time box.",
        "",
        f"![quality against time](img/{images[1]})",
        "",
        "**What the methods are**",
        "",
        "- *NUDGE-N / NUDGE-M*: this package's `NudgeN` / `NudgeM`, defaults (the reference's "
        "behaviour: gamma by validation hit@1, nudged with the training queries).",
        "- *nudge-ft 0.1.2*: the authors' package, default settings, in the same process. "
        "Its vectors match ours to 1e-5 (`tests/test_reference_parity.py`).",
        "- *linear query adapter* (`benchmarks/paper/adapter.py`): the shape of "
        "LlamaIndex's adapter fine-tuning engine: `q' = normalise(W q + b)`, `W` from the "
        "identity, records unchanged; in-batch-negatives ranking loss (scale 20) with Adam; "
        "early stopping on validation NDCG@10 over the full corpus (patience 8 epochs); "
        "learning rate picked on validation from 3e-4, 1e-3, 3e-3 (the fit time includes "
        "all three).",
        "- *adapter + NUDGE*: NUDGE fitted on the base records with *adapted* training and "
        "validation queries; served with adapted queries. The paper does not try it.",
        "- *full fine-tune* (`benchmarks/paper/full_finetune.py`): all of MiniLM with "
        "sentence-transformers' `MultipleNegativesRankingLoss` (batch 32, AdamW 2e-5, "
        "warm-up), time-boxed, early-stopped on validation. Two choices make it fit this "
        "2-core CPU, both said here: (1) training truncates records to 128 tokens; every "
        "evaluated embedding, including the re-embedded corpus, uses the model's 256-token "
        "default exactly as the base vectors, so the comparison is like for like; "
        "(2) validation re-ranks a fixed pool (the validation queries' relevant records "
        "plus each one's 3 nearest base records) instead of re-embedding 5,183 records per "
        "check; the best checkpoint then re-embeds the whole corpus once.",
        _ft(res, res["main"], "Full fine-tune, paper split"),
        _ft(res, res["ood"]["rows"], "Full fine-tune, OOD split"),
        "",
        "**Next to the paper.** The paper averages 7 datasets with bge-small-en-v1.5 on a "
        "32-core CPU: no fine-tuning 48.7, adaptor 51.6, full fine-tune 52.5, NUDGE-M 57.0, "
        "NUDGE-N 61.1 NDCG@10. Here, on one dataset with MiniLM: no fine-tuning "
        f"{nd('no fine-tuning')}, adapter {nd('linear query adapter')}, full fine-tune "
        f"{nd('full fine-tune (MiniLM, MNRL)')}, NUDGE-M {nd('NUDGE-M')}, NUDGE-N "
        f"{nd('NUDGE-N')}; adapter + NUDGE-N {nd('adapter + NUDGE-N')}. The order of NUDGE "
        "and the full fine-tune holds; the linear adapter is much stronger here than the "
        "paper's average.",
        "",
        "## Generalisation: queries unlike the training ones",
        "",
        f"k-means (k=2, seed 0) on the training queries' embeddings; the larger cluster "
        f"({res['ood']['sizes']['train']} queries) trains every method, "
        f"{res['ood']['sizes']['val']} validation queries nearest its centroid choose "
        f"gamma / stop training, and the test queries split by nearest centroid into "
        f"{res['ood']['sizes']['test_id']} in-distribution (ID) and "
        f"{res['ood']['sizes']['test_ood']} out-of-distribution (OOD) queries. The "
        f"{res['ood']['sizes']['train_left_out']} training queries of the other cluster are "
        "not used. *OOD vs none* is the OOD NDCG@10 minus no fine-tuning's.",
        "",
        *ood_lines,
        "",
        f"![ID and OOD test NDCG@10](img/{images[2]})",
        "",
        (
            "Methods that score below no fine-tuning on the OOD queries: " + ", ".join(hurt) + "."
            if hurt
            else "No method scores below no fine-tuning on the OOD queries in this run."
        ),
        "",
        "## Records inserted after the fit",
        "",
        f"{inc['inserted']} records (10%, seed 0) are held back; every method is fitted on "
        f"the other {inc['kept']} ({inc['train_queries']} training and "
        f"{inc['val_queries']} validation queries keep a relevant record there), then the "
        "held-back records are inserted with their base vectors and no refit (the "
        "incremental path). *Earlier* are the "
        f"{inc['earlier_test_queries']} test queries whose relevant records were all there "
        f"at fit time; *new* the {inc['new_record_test_queries']} test queries with a "
        "relevant record among the inserted ones. Cells: NDCG@10 / R@1 / R@10 / MRR@10.",
        "",
        *_inc_table(inc),
        "",
        "Full fine-tuning is not in this table: it would need a third time-boxed training, "
        "and a model-side method embeds new records with the same model as old ones.",
        "",
        "## Beyond the paper: what won and what did not",
        "",
        "Each candidate is chosen on validation and confirmed on test: *val* fits with the "
        "training queries only (1/8 of them held out to choose gamma) and scores the "
        "paper's validation queries; *test* is the paper's protocol; the OOD split's two "
        "parts must not lose more than 0.005 (about one query's rank change). Kept only if "
        "it beats its baseline on val **and** test. Hard negatives, per-record steps and "
        "cross-validation are prototypes in `benchmarks/paper/improvements.py`, built on "
        "the core's public API.",
        "",
        *_imp_table(res["improvements"]),
        "",
        "**Kept**: "
        + (
            "; ".join(f"NUDGE-{r['variant']} {r['candidate']} (test {r['test']:.3f})" for r in kept)
            or "nothing"
        )
        + f". **Not kept**: {len(lost)} candidates (table above).",
        "",
        "## What changed in the package",
        "",
        "- `NudgeN` / `NudgeM` take `refit_with_validation=` (default `False`: the "
        "reference's behaviour, which the parity tests pin). With `True` and a validation "
        "set, gamma is still chosen on validation, then the final nudge uses the training "
        "and the validation queries.",
        "- The adapters default to it: `NudgeFinetuneEngine(...)` and `NudgeFitter(...)` "
        "pass `refit_with_validation=True`. For the paper's behaviour, pass "
        "`refit_with_validation=False`, e.g. "
        "`NudgeFinetuneEngine(train, embed_model, val_dataset=val, "
        "refit_with_validation=False)` or `NudgeFitter(embeddings, "
        "refit_with_validation=False)`. Without a validation set nothing changes: the "
        "adapters already hold 10% out to choose gamma and then nudge with all the "
        "training queries (`refit=True`).",
        "- The command line (`nudge finetune`) and the core estimators keep the "
        "reference's behaviour by default.",
        "",
    ]
    return "\n".join(lines)


def write(res: dict[str, Any], docs: Path) -> Path:
    images = _plots(res, docs / IMG)
    out = docs / PAGE
    out.write_text(page(res, images))
    return out


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "benchmarks/results/paper.json"
    print(write(json.loads(src.read_text()), root / "docs"))
