"""The question-embedding block of ``docs/benchmarks-adapters.md``, from
``query-embedding.json``: the run, the table by mode, and the conclusions the table shows."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.pages.provenance import machine_phrase, threads_phrase

#: Issue 12's report, which the benchmark answers: ms a question with ``embed_query`` one
#: at a time, and batched, with the same model (measured elsewhere, not by this script).
REPORTED_MS = {"one at a time": 305.0, "batches": 39.0}
#: A mode "pays" from this speed-up on; below it and above ``SLOWER`` it "changes little".
PAYS, SLOWER = 1.25, 0.95
#: Other processes' share of the machine's CPU above which a run counts as contended.
BUSY_SHARE = 0.1
#: Vectors that differ by less than this are "the same" (float32 rounding between paths).
SAME_VECTORS = 1e-5


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _by_role(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["role"]: m for m in data["modes"]}


def speedups(data: dict[str, Any]) -> dict[str, float]:
    """Each mode's median against the first mode's (one question at a time)."""
    base = _median(data["modes"][0]["seconds"])
    return {m["role"]: base / _median(m["seconds"]) for m in data["modes"]}


def run_paragraph(data: dict[str, Any]) -> str:
    """What was embedded, how it was timed, and what the run recorded about the machine."""
    run, s = data["run"], data["settings"]
    nice = data.get("niceness")
    niced = f"niceness {nice}" if nice is not None else "niceness not recorded"
    start, end = data["loadavg_start"][0], data["loadavg_end"][0]
    text = (
        f"{data['questions']} {data['source']}, {data['model']}; each mode timed "
        f"{_times(s['repeats'])}, modes interleaved, the median shown. Recorded by the run: "
        f"{machine_phrase(run['machine'])}; {threads_phrase(run)}; {niced}; 1-min load "
        f"average {start:.2f} at the start and {end:.2f} at the end"
        + (
            f" (its own threads count in it; other processes used "
            f"{data['others_cpu_share']:.0%} of the CPU while the modes ran)"
            if data.get("others_cpu_share") is not None
            else ""
        )
        + f"; {data['elapsed_s']:.0f} s in all. Command: `{run['command']}`."
    )
    if s["reduced"]:
        d = s["defaults"]
        text += (
            f"\n\n**Reduced run**: {s['n']} questions and {_plural(s['repeats'], 'repeat')}, "
            f"not the script's defaults ({d['n']} and {d['repeats']}); "
            "`python benchmarks/bench_query_embedding.py` runs the full size."
        )
    return text


def table(data: dict[str, Any]) -> str:
    """One row per mode: median, per question, speed-up, CPU time over wall time, runs."""
    lines = [
        "| mode | median s | ms per question | speed-up | CPU time / wall time | runs, s |",
        "|---|---|---|---|---|---|",
    ]
    ups = speedups(data)
    for m in data["modes"]:
        med = _median(m["seconds"])
        cpu = sum(m["cpu_seconds"]) / sum(m["seconds"])
        runs = ", ".join(f"{t:.2f}" for t in m["seconds"])
        lines.append(
            f"| {m['name']} | {med:.2f} | {1000 * med / data['questions']:.1f} | "
            f"{ups[m['role']]:.1f}x | {cpu:.2f} | {runs} |"
        )
    return "\n".join(lines)


def _verdict(x: float, pays: str) -> str:
    if x >= PAYS:
        return pays
    return "change little" if x > SLOWER else "are slower"


def contention(data: dict[str, Any]) -> str | None:
    """Why the run's ratios are a contended machine's, or None on a quiet one: other
    processes used more than :data:`BUSY_SHARE` of the CPU while the modes ran (runs that
    did not record it: the 1-min load average, which counts the run's own threads too,
    rose above the usable cores)."""
    machine = data["run"]["machine"]
    cores = machine.get("affinity_cores") or machine.get("cores")
    others = data.get("others_cpu_share")
    load = max(data["loadavg_start"][0], data["loadavg_end"][0])
    if others is not None:
        if others <= BUSY_SHARE:
            return None
        why = f"other processes used {others:.0%} of the machine's CPU while it ran"
    elif cores is None or load <= cores:
        return None
    else:
        why = f"the 1-min load average reached {load:.2f} on {cores} cores"
    shares = [sum(m["cpu_seconds"]) / sum(m["seconds"]) for m in data["modes"]]
    nice = data.get("niceness")
    return (
        why
        + (f", the benchmark ran at niceness {nice}" if nice else "")
        + f", and it got {min(shares):.2f}-{max(shares):.2f} CPU-seconds a second while "
        f"torch ran {machine.get('torch_threads', '?')} threads"
    )


def modes_sentence(data: dict[str, Any]) -> str:
    """Which of batches and threads pay against one question at a time, and in what light."""
    ups = speedups(data)
    batch, threads = ups["batches"], ups["threads"]
    said = (
        f"batches {_verdict(batch, 'pay')} ({batch:.1f}x) and "
        f"threads {_verdict(threads, 'pay')} ({threads:.1f}x)"
    )
    busy = contention(data)
    if busy is not None:
        return (
            f"- This run was contended: {busy}. Under that load {said}; a quiet machine's "
            "ratios can differ, so compare modes on a rerun of "
            "`python benchmarks/bench_query_embedding.py` while nothing else runs."
        )
    machine = data["run"]["machine"]
    torch_threads, cores = machine.get("torch_threads"), machine.get("affinity_cores")
    why = (
        f": torch already runs the model on {torch_threads} threads, one per usable core"
        if threads < PAYS and torch_threads is not None and torch_threads == cores
        else ""
    )
    return f"- On this local CPU model, {said}{why}."


def conclusions(data: dict[str, Any]) -> list[str]:
    """What the table shows: which mode pays, whether the vectors agree, issue 12's figure."""
    roles = _by_role(data)
    out = [modes_sentence(data)]
    diff = data["max_vector_diff"]
    out.append(
        f"- Every mode gives the same vectors (largest difference {diff:.1e})."
        if diff < SAME_VECTORS
        else f"- The modes' vectors differ by up to {diff:.1e}: more than rounding."
    )
    ms = {role: 1000 * _median(roles[role]["seconds"]) / data["questions"] for role in REPORTED_MS}
    one, reported = ms["one at a time"], REPORTED_MS["one at a time"]
    out.append(
        f"- Issue 12 reported {reported:.0f} ms a question one at a time and "
        f"{REPORTED_MS['batches']:.0f} ms batched; this run measured {one:.1f} ms and "
        f"{ms['batches']:.1f} ms"
        + (
            f": the {reported:.0f} ms was not reproduced."
            if one < reported / 2
            else (", of the same order." if one <= 2 * reported else ", slower still.")
        )
    )
    return out


def block(data: dict[str, Any] | None) -> str:
    """The whole generated block: the run, the table, the conclusions."""
    if not data:
        return "Not measured (no `benchmarks/results/query-embedding.json`)."
    return "\n\n".join([run_paragraph(data), table(data), "\n".join(conclusions(data))])
