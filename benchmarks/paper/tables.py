"""The tables of ``docs/paper-comparison.md``, each cell from ``paper.json``; a method that
degenerated to another (gamma 0, best checkpoint at step 0) says so in its row."""

from __future__ import annotations

from typing import Any

from benchmarks.paper.choice import CHOSEN, MARGIN, choose, verdicts

METRICS = ("ndcg@10", "recall@1", "recall@10", "mrr@10")
PROTOCOLS = {"val": "val", "test": "test", "ood": "the OOD split"}


def f3(x: float | None, nd: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{nd}f}"


def secs(x: float) -> str:
    return "0" if x == 0 else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def degenerate(r: dict[str, Any]) -> str | None:
    """The method a row's method collapsed into, when it did, else None."""
    info = r.get("info") or {}
    if info.get("gamma") == 0:
        base = "linear query adapter" if r["method"].startswith("adapter + ") else "no fine-tuning"
        return f"gamma 0: the same vectors as *{base}*"
    if r["method"].startswith("full fine-tune") and info.get("best_step") == 0:
        return "best checkpoint at step 0: the base model, *no fine-tuning*"
    return None


def label(r: dict[str, Any]) -> str:
    same = degenerate(r)
    return r["method"] if same is None else f"{r['method']} ({same})"


def main_table(res: dict[str, Any]) -> list[str]:
    out = [
        "| method | NDCG@10 | R@1 | R@10 | MRR@10 | val NDCG@10 | fit, s | re-embed, s | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["main"]:
        t, v = r["metrics"]["test"], r["metrics"]["val"]
        seen = " (fitted on)" if "val refit" in r["method"] else ""
        note = ", ".join(
            f"{k} {x:.4g}" if isinstance(x, float) else f"{k} {x}" for k, x in r["info"].items()
        )
        out.append(
            f"| {label(r)} | {f3(t['ndcg@10'])} | {f3(t['recall@1'])} | {f3(t['recall@10'])} "
            f"| {f3(t['mrr@10'])} | {f3(v['ndcg@10'])}{seen} | {secs(r['fit_s'])} | "
            f"{secs(r['embed_s'])} | {note} |"
        )
    return out


def ood_table(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The OOD table, and the methods whose OOD score falls below no fine-tuning's."""
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
            f"| {label(r)} | "
            + " | ".join(f3(i[m]) for m in METRICS)
            + " | "
            + " | ".join(f3(o[m]) for m in METRICS)
            + f" | {flag} |"
        )
    return out, hurt


def degenerate_note(res: dict[str, Any]) -> str:
    """One sentence naming every row that collapsed into another method, or nothing."""
    found = [
        f"{r['method']} ({where})"
        for where, rows in (("paper split", res["main"]), ("OOD split", res["ood"]["rows"]))
        for r in rows
        if degenerate(r)
    ]
    if not found:
        return ""
    return (
        "Rows marked *gamma 0* or *step 0* are not a method of their own there: the fit chose "
        "not to move anything (or kept the base model), so they repeat the method named: "
        + ", ".join(found)
        + "."
    )


def inc_table(inc: dict[str, Any]) -> list[str]:
    out = [
        "| method | earlier queries before insert (NDCG@10 / R@1 / R@10 / MRR@10) | after insert | "
        "change in NDCG@10 | queries about new records, after insert |",
        "|---|---|---|---|---|",
    ]
    for r in inc["rows"]:
        b, a, n = r["earlier_before"], r["earlier_after"], r["new_after"]
        out.append(
            f"| {r['method']} | "
            + " / ".join(f3(b[m]) for m in METRICS)
            + " | "
            + " / ".join(f3(a[m]) for m in METRICS)
            + f" | {a['ndcg@10'] - b['ndcg@10']:+.3f} | "
            + " / ".join(f3(n[m]) for m in METRICS)
            + " |"
        )
    return out


def judged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their verdict computed from validation alone (whatever was stored)."""
    out = [dict(r) for r in rows]
    verdicts(out)
    return out


def imp_table(rows: list[dict[str, Any]]) -> list[str]:
    by = {(r["variant"], r["candidate"]): r for r in rows}
    out = [
        "| variant | candidate | val NDCG@10 (chooses) | test NDCG@10 | OOD split: ID | "
        "OOD split: OOD | compared with | verdict, on val alone |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = by.get((r["variant"], r["baseline"]))

        def cell(k: str, r: dict[str, Any] = r, b: dict[str, Any] | None = b) -> str:
            return f3(r[k]) + ("" if b is None else f" ({r[k] - b[k]:+.3f})")

        same = r.get("same_as_baseline")
        where = ", ".join(PROTOCOLS.get(p, p) for p in same or [])
        name = r["candidate"] + (f" (the same vectors as its baseline on {where})" if same else "")
        verdict = f"**{CHOSEN}**" if r["verdict"] == CHOSEN else r["verdict"]
        out.append(
            f"| NUDGE-{r['variant']} | {name} | {cell('val')} | {cell('test')} | "
            f"{cell('ood_id')} | {cell('ood_ood')} | {r['baseline'] or '-'} | {verdict} |"
        )
    return out


def choices(rows: list[dict[str, Any]]) -> list[str]:
    """Per group, what validation chose, then its test and OOD against the baseline."""
    by = {(r["variant"], r["candidate"]): r for r in rows}
    out = []
    for (variant, base), pick in choose(rows).items():
        b, c = by[(variant, base)], by[(variant, pick)]
        setting = (
            "without a validation set" if base.startswith("no val set") else "with a validation set"
        )
        if pick == base:
            out.append(
                f"- NUDGE-{variant}, {setting}: no candidate beats *{base}* by more than "
                f"{MARGIN} on validation; the baseline stays (test {c['test']:.3f})."
            )
            continue
        out.append(
            f"- NUDGE-{variant}, {setting}: **{pick}** (val {c['val']:.4f}, "
            f"{c['val'] - b['val']:+.4f} over *{base}*); then, reported once: test "
            f"{c['test']:.3f} ({c['test'] - b['test']:+.3f}), OOD split ID {c['ood_id']:.3f} "
            f"({c['ood_id'] - b['ood_id']:+.3f}) / OOD {c['ood_ood']:.3f} "
            f"({c['ood_ood'] - b['ood_ood']:+.3f})."
        )
    return out


def refit_default(rows: list[dict[str, Any]]) -> str:
    """Whether the adapters' default (refit with validation queries) is what validation chose."""
    picks = choose(rows)
    with_val = {v: pick for (v, base), pick in picks.items() if not base.startswith("no val set")}
    refit = "refit with validation queries"
    if with_val and all(p == refit for p in with_val.values()):
        return (
            "Chosen on validation alone, refitting with the validation queries is the choice "
            f"for {' and '.join(f'NUDGE-{v}' for v in sorted(with_val))}: the adapters' default "
            "`refit_with_validation=True` stands."
        )
    others = ", ".join(f"NUDGE-{v}: {p}" for v, p in sorted(with_val.items()) if p != refit)
    return (
        "Chosen on validation alone, refitting with the validation queries is **not** the "
        f"choice everywhere ({others}): the adapters' default `refit_with_validation=True` is "
        "not what this rule picks (the library default is left as it is; see the issue)."
    )
