"""The docs page (and a one-line summary per case) generated from the results JSON."""

from __future__ import annotations

from typing import Any

from .limits import BUILD_LIMIT_S, STEP_LIMIT_S

#: Stores written in memory and saved to files: their update is the write plus the save.
SAVED = {"faiss", "memory"}
BOUND = 1.5
TITLES = {
    "chroma": "Chroma (PersistentClient)", "chroma-server": "Chroma (`chroma run` server)",
    "faiss": "FAISS flat, saved", "qdrant": "Qdrant (local path)", "lancedb": "LanceDB",
    "pgvector": "PostgreSQL + pgvector (pgserver)", "milvus": "Milvus Lite",
    "memory": "in memory, persisted",
}  # fmt: skip
FW = {"langchain": "LangChain", "llama_index": "LlamaIndex"}
PARTS = ("read", "write", "write_marked", "read_markers", "write_markers", "all_ids", "read_texts",
         "ledger_files", "text_hash")  # fmt: skip


def _s(row: dict[str, Any], name: str) -> float | None:
    got = row.get(name)
    return got.get("seconds") if isinstance(got, dict) else None


def timed(row: dict[str, Any], name: str) -> float | None:
    """Seconds of step ``name``, with the save after it for stores saved to files."""
    s = _s(row, name)
    if s is None:
        return None
    if row["store"] in SAVED:
        s += _s(row, f"{name}_save") or 0.0
    return s


def own_time(row: dict[str, Any], back: bool) -> float | None:
    """The store's own update (``back``: of the base vectors), the faster of its run
    before the swap and after the revert: the stricter yardstick."""
    suffix = "_back" if back else ""
    found = [t for t in (timed(row, f"own_before{suffix}"), timed(row, f"own_update{suffix}"))
             if t is not None]  # fmt: skip
    return min(found) if found else None


def ratios(row: dict[str, Any]) -> tuple[float | None, float | None]:
    """swap / own update and revert / own update back."""
    out = []
    for ours, back in (("swap", False), ("revert", True)):
        a, b = timed(row, ours), own_time(row, back)
        out.append(round(a / b, 2) if a is not None and b else None)
    return out[0], out[1]


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _ok(step: dict[str, Any] | None, name: str) -> str:
    if not step:
        return "-"
    secs = (step.get(name) or {}).get("seconds")
    mark = "ok" if step.get("ok") else "FAILED"
    return f"{mark} ({_f(secs)} s)"


def _pair(r: dict[str, Any], suffix: str) -> str:
    """The own update before the swap / after the revert."""
    return f"{_f(timed(r, f'own_before{suffix}'))} / {_f(timed(r, f'own_update{suffix}'))}"


def _native(r: dict[str, Any]) -> str:
    """The store-native fit's seconds, or that it was stopped at the limit or skipped."""
    if "stopped" not in (r.get("native_fit_result") or {}):
        return _f(_s(r, "native_fit"))
    secs = _s(r, "native_fit")
    return f"> {secs:.0f} (stopped)" if secs else "skipped"


def case_row(r: dict[str, Any]) -> str:
    sw, rv = ratios(r)
    within = "-" if sw is None or rv is None else ("yes" if max(sw, rv) <= BOUND else "**no**")
    native = r.get("native_fit_result") or {}
    status = r.get("status_new_process") or {}
    st = f"{status.get('state', '-')} ({_f(status.get('wall_s'))} s)" if status else "-"
    diff = (r.get("revert_check") or {}).get("max_abs_diff")
    first = r.get("fit_reads_store_result") or {}
    cells = [
        TITLES.get(r["store"], r["store"]), FW.get(r["framework"], r["framework"]),
        f"{r['n']:,}", _f(native.get("moved") or first.get("moved")),
        _f(_s(r, "build")), _f(_s(r, "fit_reads_store")), _native(r),
        _f(timed(r, "swap")), _pair(r, ""), _f(sw, 2),
        _f(timed(r, "revert")), _pair(r, "_back"), _f(rv, 2), within, st,
        "-" if diff is None else f"{diff:.1g}",
        _ok(r.get("rollback_after_kill"), "rollback"), _ok(r.get("finish_after_kill"), "finish"),
        _f(r.get("peak_rss_gb"), 2), r.get("status", "-").split(":")[0],
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def breakdown_rows(r: dict[str, Any]) -> list[str]:
    rows = []
    for op in ("swap", "revert"):
        b = r.get(f"{op}_breakdown")
        if not b:
            continue
        secs = b["seconds"]
        cells = [TITLES.get(r["store"], r["store"]), FW.get(r["framework"], r["framework"]), op,
                 _f(_s(r, op))]  # fmt: skip
        cells += [_f(secs.get(k), 2) for k in PARTS] + [_f(b.get("rest_s"), 2)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def explain(r: dict[str, Any]) -> list[str]:
    """For each of swap and revert over the bound: where its time went against the
    store's own update (measured parts, largest first)."""
    out = []
    for op, back in (("swap", False), ("revert", True)):
        ours, theirs, b = timed(r, op), own_time(r, back), r.get(f"{op}_breakdown")
        if ours is None or not theirs or not b or ours / theirs <= BOUND:
            continue
        parts = {**b["seconds"], "rest": b.get("rest_s", 0.0)}
        if r["store"] in SAVED:
            parts["save"] = _s(r, f"{op}_save") or 0.0
        top = sorted(parts.items(), key=lambda kv: -kv[1])
        listed = ", ".join(f"{k} {v:.1f} s" for k, v in top if v >= 0.05 * ours)
        secs = b["seconds"]
        writes = sum(secs.get(k, 0.0) for k in ("write", "write_marked", "write_markers"))
        rest = ours - writes - parts.get("save", 0.0)
        why = (
            f"; all but the writes and the save ({rest:.1f} s: reading what the records "
            "hold, the ledger's durable files, the comparisons) is already "
            f"{rest / theirs:.2f}x the own update, so no faster write would bring it within "
            f"{BOUND}x"
            if rest > (BOUND - 1) * theirs
            else ""
        )
        out.append(
            f"* {TITLES.get(r['store'], r['store'])}, {FW.get(r['framework'], r['framework'])}, "
            f"{op}: {ours:.1f} s against {theirs:.1f} s ({ours / theirs:.2f}x); {listed}; its "
            f"vector and marker writes {writes:.1f} s ({writes / theirs:.2f}x the own "
            f"update){why}."
        )
    return out


def stopped_row(r: dict[str, Any]) -> str:
    cells = [TITLES.get(r["store"], r["store"]), FW.get(r["framework"], r["framework"]),
             f"{r['n']:,}", _f(_s(r, "build")), _f(_s(r, "fit_reads_store")),
             _f(_s(r, "native_fit")), r.get("status", "-")[:90]]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def repro_row(r: dict[str, Any]) -> str:
    check = r.get("revert_check") or {}
    cells = [FW.get(r["framework"], r["framework"]), f"{r['n']:,}",
             _f((r.get("fit_reads_store_result") or {}).get("moved")), _f(_s(r, "build")),
             _f(_s(r, "fit_reads_store")), _f(_s(r, "swap")), _f(_s(r, "revert")),
             "yes" if check.get("bit_exact") else f"no ({check.get('max_abs_diff')})",
             r.get("status", "-")[:120]]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def page(data: dict[str, Any]) -> str:
    m, v = data.get("machine", {}), data.get("versions", {})
    cases = sorted(data.get("cases", []), key=lambda r: (r["store"], r["framework"], r["n"]))
    commands = sorted(
        {r.get("command", "") for r in data.get("cases", []) + data.get("reproductions", [])}
    )
    lines = [
        "# Production-size stores: swap, revert and recovery at 200k",
        "",
        "Generated by `benchmarks/bench_stores_production.py` from "
        "`benchmarks/results/stores-production.json` (do not edit by hand).",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
        f"{m.get('memory_gib', '?')} GiB, GPU {m.get('gpu', '?')}; Python {m.get('python', '?')}, "
        f"torch {m.get('torch', '?')} with {m.get('torch_threads', '?')} threads, FAISS "
        f"{m.get('faiss_omp_threads', '?')} OpenMP threads. The machine is shared with other "
        "work: each case ran under the benchmarks' CPU lock, and each step records the share "
        "of the CPU other processes used meanwhile (`others_cpu_share` in the JSON).",
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in commands if c),
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "## The matrix",
        "",
        "Seconds. *moved*: records the store-native fit moved (all of them swapped). *swap* "
        "and *revert* are `swap_in(..., batch_size=None, show_progress=False)` and "
        "`revert(...)`; *own* is the store's own bulk update of the same vectors through "
        "its own client, in the same run on the same store (`benchmarks/production/own.py` "
        "says which call and request size), run before the swap and again after the revert "
        "(before / after); *own back* writes the base vectors back the same way. Ratios are "
        "against the faster of the two runs. For FAISS and the in-memory stores, which "
        "change on disk only when saved, every one of these includes the save. *status*: "
        "`status()` from a new process, wall time including its start. *revert diff*: the "
        "largest difference of a reverted record from its base (0: bit for bit). *rollback* "
        "/ *finish*: a swap killed with SIGKILL before a random batch's vector write, then "
        "rollback (finish) from a new process, every moved record and a sample of 2,000 "
        "others checked against what they must hold, markers included (finish is followed by "
        "a revert, checked too). *peak*: the case process's RSS high-water mark (GB).",
        "",
        "| store | framework | N | moved | build | fit reading the store | native fit | swap "
        f"| own | swap / own | revert | own back | revert / own | within {BOUND}x | status "
        "| revert diff | kill, rollback | kill, finish | peak | case |",
        "|" + "---|" * 20,
        *[case_row(r) for r in cases],
        "",
        "## Where swap and revert spend their time",
        "",
        "Seconds in each part, timed from outside the package: the writer's one-request "
        "methods (vector reads and writes, a store's combined vector-and-marker write "
        "(`write_marked`), marker reads and writes), `Bound.texts` (current "
        "texts), the ledger's durable file writes (write, fsync, rename) and text hashes; "
        "*rest* is the ledger's own work and the comparisons in between.",
        "",
        "| store | framework | step | total | " + " | ".join(PARTS) + " | rest |",
        "|" + "---|" * (5 + len(PARTS)),
        *[row for r in cases for row in breakdown_rows(r)],
        "",
        "Over the bound, measured:",
        "",
        *[ln for r in cases for ln in explain(r)],
        "",
        "## Runs stopped at the step limit",
        "",
        f"Steps that ran past {STEP_LIMIT_S:,} s (the build: {BUILD_LIMIT_S:,} s) stop their "
        "case (`STEP_LIMIT_S`, "
        "`BUILD_LIMIT_S`); the case was run again "
        "with that store's native fit skipped (`--no-native`), above.",
        "",
        "| store | framework | N | build | fit reading the store | native fit | stopped at |",
        "|---|---|---|---|---|---|---|",
        *[stopped_row(r) for r in data.get("earlier_runs", [])],
        "",
        "## Issue 18's reproductions (Chroma persistent, 100k)",
        "",
        "A fit that reads the store (no `native=True`), then a swap of its moved records and "
        "a revert, checked bit for bit, each framework in a new process.",
        "",
        "| framework | N | moved | build | fit reading the store | swap | revert | revert bit "
        "for bit | case |",
        "|---|---|---|---|---|---|---|---|---|",
        *[repro_row(r) for r in data.get("reproductions", [])],
        "",
    ]
    return "\n".join(lines)


def line(r: dict[str, Any]) -> str:
    """One line per finished case, for the terminal."""
    sw, rv = ratios(r)
    return (
        f"{r['store']}:{r['framework']} n={r['n']:,} [{r.get('status', '?')[:200]}] build "
        f"{_f(_s(r, 'build'))} fit {_f(_s(r, 'fit_reads_store'))} native {_f(_s(r, 'native_fit'))}"
        f" swap {_f(timed(r, 'swap'))} own {_pair(r, '')} ({_f(sw, 2)}x) revert "
        f"{_f(timed(r, 'revert'))} own back {_pair(r, '_back')} ({_f(rv, 2)}x)"
    )
