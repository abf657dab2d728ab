"""The generated blocks of ``docs/benchmarks-adapters.md``: LlamaIndex evaluation
(``eval.json``) and QA-generation saving (``qa_save.json``)."""

from __future__ import annotations

from typing import Any

from benchmarks.pages.provenance import machine_phrase, threads_phrase

#: The saving cases' labels on the page (the results file's are shorter).
QA_LABELS = {
    "no save_path": "no `save_path` (floor)",
    "every passage (save_every=1, save_interval=None)": (
        "now, `save_every=1, save_interval=None` (the old behaviour)"
    ),
    "defaults (save_every=100, save_interval=10 s)": (
        "now, defaults (`save_every=100`, `save_interval=10`)"
    ),
}
BEFORE = "before: module at "
FLOOR, DEFAULTS = "no save_path", "defaults (save_every=100, save_interval=10 s)"


def run_block(ev: dict[str, Any] | None, qa: dict[str, Any] | None) -> str:
    """What each results file recorded about its machine and the load on it."""
    parts = []
    if ev:
        m = ev.get("machine", {})
        parts.append(
            f"`eval.json`: {machine_phrase(m)}; {threads_phrase(ev.get('run'))}; 1-min load "
            f"average {ev['loadavg_start'][0]:.1f} at the start and {ev['loadavg_end'][0]:.1f} "
            "at the end"
        )
    if qa:
        m = qa.get("run", {}).get("machine") or qa.get("machine")
        machine = machine_phrase(m) if m else "machine not recorded"
        parts.append(
            f"`qa_save.json`: {machine}; 1-min load average {qa['loadavg_start'][0]:.1f} / "
            f"{qa['loadavg_end'][0]:.1f}"
        )
    return "Recorded by the runs: " + "; ".join(parts) + "." if parts else "Not measured."


def short_s(x: float) -> str:
    """Seconds to one decimal, or two below a second (17.6, 0.16)."""
    return f"{x:.1f}" if x >= 1 else f"{x:.2f}"


SCIFACT_RECORDS = 5_183  # SciFact's corpus (BEIR), the records the benchmark indexes


def row_like(ev: dict[str, Any], *words: str) -> dict[str, Any] | None:
    """The first row whose label holds every word (``"SimpleVectorStore", "lookup"``)."""
    return next((r for r in ev["rows"] if all(w in r["label"] for w in words)), None)


def eval_setup(ev: dict[str, Any]) -> str:
    """The run's setting, with the index build time and run counts it recorded."""
    first = ev["rows"][0]
    build = ev.get("index_build_seconds")
    built = f": {build:.1f} s" if build is not None else ""
    threads = ev.get("machine", {}).get("torch_threads", "?")
    return (
        f"SciFact, {SCIFACT_RECORDS:,} records on LlamaIndex's default `SimpleVectorStore` "
        f"(nodes carry their precomputed MiniLM vectors, so building the index embeds "
        f"nothing{built}), the NUDGE paper split's {first['queries']} test queries, "
        f"`similarity_top_k=10`. Old path timed once; new path the median of "
        f'{len(first["new_runs"])} runs in the same process. "lookup" returns the '
        'precomputed query vectors by text, so its times are retrieval alone; "MiniLM" is '
        f"the offline all-MiniLM-L6-v2 (`load_minilm`, {threads} torch thread"
        f"{'' if threads == 1 else 's'}) embedding each query."
    )


def where_time_goes(ev: dict[str, Any]) -> str:
    """Per-query cost of the old path, the new path's ranking, and MiniLM's per query."""
    lookup, minilm = row_like(ev, "SimpleVectorStore", "lookup"), row_like(ev, "MiniLM")
    if lookup is None or minilm is None:
        return ""
    q = lookup["queries"]
    per_query = lookup["old_seconds"] / q * 1e3
    ranking = lookup["new_seconds"] - lookup["new_embed_seconds"]
    embed = minilm["new_embed_seconds"] / minilm["queries"] * 1e3
    return (
        "- The old path's cost is `SimpleVectorStore.query`, which scores the "
        f"{SCIFACT_RECORDS:,} vectors in a Python loop (about {per_query:.0f} ms a query, "
        f"lookup row). The new path's ranking takes about {ranking:.2f} s for all {q} "
        "queries (lookup row, less its query lookup); what remains is the model embedding the "
        "queries. LlamaIndex has no batched query-embedding call, and a local model's "
        "`aget_query_embedding` runs synchronously, so MiniLM embeds them one by one (about "
        f"{embed:.0f} ms each, MiniLM row)."
    )


def eval_block(ev: dict[str, Any]) -> str:
    """The setting, the evaluation table, whether the paths agree and where time goes."""
    lines = [
        eval_setup(ev),
        "",
        "| retriever, query model | per query (old), s | one pass (new), s | of which "
        "embedding queries, s | speed-up | NDCG@10 old / new | identical top-10 lists |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ev["rows"]:
        lines.append(
            f"| {r['label']} | {short_s(r['old_seconds'])} | {r['new_seconds']:.2f} | "
            f"{r['new_embed_seconds']:.2f} | {r['speedup']:.0f}x | "
            f"{r['metrics_old']['ndcg@10']:.4f} / {r['metrics_new']['ndcg@10']:.4f} | "
            f"{r['identical_lists']}/{r['queries']} |"
        )
    worst = max(r["max_metric_diff"] for r in ev["rows"])
    lists = all(r["identical_lists"] == r["queries"] for r in ev["rows"])
    lines += [
        "",
        (
            "- Every metric (hit rate, MRR, both NDCGs, recall) is identical between the paths "
            "(max abs difference 0)"
            if worst == 0
            else f"- The paths' metrics differ by up to {worst:.2g}"
        )
        + (", and so is every ranked list." if lists else "; some ranked lists differ (table)."),
    ]
    return "\n".join([*lines, where_time_goes(ev)]).rstrip("\n")


def qa_block(qa: dict[str, Any]) -> str:
    """The saving table, and the before / after ratio it shows."""
    cases = qa["cases"]
    before = next((k for k in cases if k.startswith(BEFORE)), None)
    order = [FLOOR, *([before] if before else []), *[k for k in cases if k not in (FLOOR, before)]]
    size = max(c.get("file_bytes", 0) for c in cases.values()) / 1e6
    repeats = max(len(c["runs"]) for c in cases.values())
    lines = [
        f"{qa['passages']:,} synthetic passages of 200 words ({size:.2f} MB save file), a fake "
        "LLM answering two questions at once (`max_concurrency=8`), so the times are the "
        f"generation machinery and the file alone; median of {repeats} runs, each in a fresh "
        "temp folder, in one process:",
        "",
        "| case | median s | runs, s |",
        "|---|---|---|",
    ]
    for key in order:
        label = QA_LABELS.get(key, key)
        if key == before:
            label = (
                "before: `qa_generation.py` at the `--before-ref` revision, its defaults "
                "(a write per passage)"
            )
        runs = ", ".join(f"{s:.2f}" for s in cases[key]["runs"])
        lines.append(f"| {label} | {cases[key]['seconds']:.2f} | {runs} |")
    if before and DEFAULTS in cases:
        b, a, f = cases[before]["seconds"], cases[DEFAULTS]["seconds"], cases[FLOOR]["seconds"]
        mb = cases[DEFAULTS]["file_bytes"] / 1e6
        lines += [
            "",
            f"- Before -> after: {b:.1f} s -> {a:.2f} s ({b / a:.0f}x), {a - f:.2f} s above the "
            f"run without a save file ({mb:.2f} MB written every 100 passages and at the end, "
            f"each fsynced, instead of after each of the {qa['passages']:,} passages).",
        ]
    return "\n".join(lines)
