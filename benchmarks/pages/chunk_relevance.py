"""The chunk-relevance blocks of ``docs/ids.md``, from ``chunk-relevance.json``
(``exp_chunk_relevance.py``): the run, the table, and the conclusions the table shows."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.pages.provenance import machine_phrase, threads_phrase

#: The size the page and ``benchmarks/README.md`` document; a smaller run is called reduced.
DOCUMENTED = {"extra": 1000, "chunk_size": 128}
COMMAND = (
    "python benchmarks/exp_chunk_relevance.py --extra 1000 --chunk-size 128 "
    "--json benchmarks/results/chunk-relevance.json"
)
#: NDCG@10 differences below ``TIE`` read as a tie, below ``CLEAR`` as "slightly".
TIE, CLEAR = 0.002, 0.01
#: A gain over no fine-tuning from ``A_LOT`` on "helps a lot"; below ``TIE`` "does not help".
A_LOT = 0.05
RULE_WORDS = {"all": "every chunk", "best": "the best chunk"}
RULES = ("all", "best")


def ndcg(data: dict[str, Any], variant: str, rule: str) -> float:
    """Test NDCG@10 of ``NUDGE-<variant>`` under ``rule``."""
    return float(data["rows"][f"NUDGE-{variant}, {rule} chunks"]["ndcg@10"])


def base_ndcg(data: dict[str, Any]) -> float:
    """Test NDCG@10 without fine-tuning."""
    return float(data["rows"]["no fine-tuning"]["ndcg@10"])


def margin(diff: float) -> str:
    """How much better a positive NDCG@10 difference is, in words."""
    return "slightly better" if diff < CLEAR else "clearly better"


def run_block(data: dict[str, Any] | None) -> str:
    """The command, what was measured, and what the results file recorded about the run."""
    if not data:
        return f"Not measured: no `benchmarks/results/chunk-relevance.json`; run `{COMMAND}`."
    s, run = data["settings"], data.get("run") or {}
    q = s["queries"]
    text = (
        f"`{data['command']}`:\n\n"
        f"{s['dataset']}, {s['documents']:,} documents ({s['judged']} judged + {s['extra']:,} "
        f"others) split into {s['chunks']:,} chunks (SentenceSplitter chunk_size="
        f"{s['chunk_size']}, overlap={s['overlap']}; {s['chunks'] / s['documents']:.2f} "
        f"chunks per document), {s['model']}, paper split {q['train']}/{q['val']}/{q['test']} "
        f"queries; {s['ranking']}. Recorded by the run: "
        f"{machine_phrase(run.get('machine', {}))}; {threads_phrase(run)}; chunk embedding "
        f"{s['embed_s']:.0f} s (cached after the first run), {data['elapsed_s'] / 60:.1f} min "
        "in all."
    )
    if s["extra"] < DOCUMENTED["extra"] or s["chunk_size"] != DOCUMENTED["chunk_size"]:
        text += (
            f"\n\n**Reduced run**: {s['extra']:,} unjudged documents with chunk_size "
            f"{s['chunk_size']}, not the documented {DOCUMENTED['extra']:,} with "
            f"{DOCUMENTED['chunk_size']}; `{COMMAND}` runs the documented size."
        )
    return text


def table(data: dict[str, Any]) -> str:
    """One row per method: test NDCG@10 and recall@10 by document, gamma, chunks moved."""
    lines = [
        "| | test ndcg@10 | test recall@10 | gamma | chunks moved |",
        "|---|---|---|---|---|",
    ]
    for name, r in data["rows"].items():
        lines.append(
            f"| {name} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['gamma']:.4g} | "
            f"{r['moved']:,} |"
        )
    return "\n".join(lines)


def over_base(data: dict[str, Any]) -> str:
    """Whether the fits help over no fine-tuning, and how much."""
    base = base_ndcg(data)
    gains = [ndcg(data, v, r) - base for v in ("N", "M") for r in RULES]
    low, high = min(gains), max(gains)
    if low >= A_LOT:
        verdict = "Both rules help a lot over no fine-tuning"
    elif low >= TIE:
        verdict = "Both rules help over no fine-tuning"
    elif high >= TIE:
        verdict = "Not every fit helps over no fine-tuning"
    else:
        verdict = "No fit helps over no fine-tuning"
    return f"{verdict} ({base:.3f}; gains {low:+.3f} to {high:+.3f} NDCG@10)."


def rule_sentence(data: dict[str, Any], variant: str) -> str:
    """Which rule does better for one variant, and what to pass for it."""
    default = data["settings"]["default_rule"]
    other = next(r for r in RULES if r != default)
    d_score, o_score = ndcg(data, variant, default), ndcg(data, variant, other)
    diff = d_score - o_score
    head = f"For NUDGE-{variant}"
    nums = f"({max(d_score, o_score):.3f} vs {min(d_score, o_score):.3f} NDCG@10)"
    if abs(diff) < TIE:
        return (
            f"{head} the two rules tie ({d_score:.3f} vs {o_score:.3f} NDCG@10); the default, "
            f"{RULE_WORDS[default]}, stays."
        )
    if diff > 0:
        return f"{head} pulling {RULE_WORDS[default]} is {margin(diff)} {nums} and is the default."
    return (
        f"{head} pulling {RULE_WORDS[other]} is {margin(-diff)} {nums}: pass "
        f'`relevant_chunks="{other}"` with `variant="{variant}"`.'
    )


def grid_sentence(data: dict[str, Any]) -> str:
    """A NUDGE-N gamma at the top of the reference grid, where one is."""
    top = float(data["settings"]["n_gamma_grid_max"])
    at_top = [r for r in RULES if data["rows"][f"NUDGE-N, {r} chunks"]["gamma"] >= top - 1e-9]
    if not at_top:
        return ""
    under = " and ".join(f'"{r}"' for r in at_top)
    return (
        f" NUDGE-N's gamma reached the top of the reference grid ({top:g}) under {under}, so "
        "a wider grid (`gammas=`) may add a little."
    )


def scope_sentence(data: dict[str, Any], scifact: dict[str, Any] | None) -> str:
    """What the run covers, and how the subset corpus compares with the full one."""
    s, run = data["settings"], data.get("run") or {}
    cores = run.get("machine", {}).get("affinity_cores") or run.get("machine", {}).get("cores")
    text = (
        f"One dataset and one chunking ({s['chunk_size']} tokens, "
        f"{s['chunks'] / s['documents']:.1f} chunks per abstract); the corpus is a subset of "
        f"{s['dataset']} (every judged abstract plus {s['extra']:,} others) to keep the "
        f"embedding within a {cores or '?'}-core CPU's reach"
    )
    if not scifact:
        return text + "."
    full_base, full_n = scifact["baseline_ndcg10"], scifact["N"]["ours_ndcg10"]
    side = "above" if base_ndcg(data) > full_base else "below"
    return (
        f"{text}, so the absolute numbers sit {side} the full-corpus ones "
        f"({full_base:.3f} -> {full_n:.3f} with NUDGE-N, unchunked; `scifact.json`)."
    )


def results_block(data: dict[str, Any] | None, scifact: dict[str, Any] | None) -> str:
    """The table, then the conclusions computed from it."""
    if not data:
        return "Not measured."
    prose = " ".join(
        [
            over_base(data),
            rule_sentence(data, "N") + grid_sentence(data),
            rule_sentence(data, "M"),
            scope_sentence(data, scifact),
        ]
    )
    return f"{table(data)}\n\n{wrap(prose)}"


def wrap(text: str) -> str:
    """Prose at the page's width, never breaking a word or a code span at a hyphen."""
    return textwrap.fill(text, 88, break_long_words=False, break_on_hyphens=False)


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def blocks(results: Path) -> dict[str, Callable[[], str]]:
    """``docs/ids.md``'s generated blocks, by marker name."""
    data, scifact = _json(results / "chunk-relevance.json"), _json(results / "scifact.json")
    return {
        "chunk-relevance-run": lambda: run_block(data),
        "chunk-relevance": lambda: results_block(data, scifact),
    }
