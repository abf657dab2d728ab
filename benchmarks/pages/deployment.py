"""The blocks of ``docs/scale.md`` that project the measured scan rate onto a sharded
deployment, and say where a fit's time goes at scale."""

from __future__ import annotations

import math
from typing import Any

D = 384
N_VAL = 1_000
NODES, CORES_PER_NODE = 16, 16
NVME_GB_S = 2.0
K = 10  # the competitors each validation query keeps per block
ENTRY_BYTES = 12  # a float32 score and an int64 id
BLOCK_ROWS, BIG_BLOCK_ROWS = 250_000, 1_000_000  # a scan task's block today, and at 1B


def round2(x: float) -> str:
    """Two significant digits with thousands separators: 952.4 -> 950, 9524 -> 9,500."""
    if x <= 0:
        return "0"
    digits = math.floor(math.log10(x)) - 1
    return f"{round(x, -digits):,.0f}" if digits >= 0 else f"{round(x, -digits):g}"


def rates(scale: dict[int, dict[str, Any]]) -> dict[str, float] | None:
    """Rows per second of our scan and FAISS's over the largest memmap run."""
    n = max(scale)
    cases = scale[n]["cases"]
    scan, faiss = cases.get("scan-mmap", {}), cases.get("floor-mmap", {})
    if "seconds" not in scan or "seconds" not in faiss:
        return None
    cores = scale[n]["machine"]["logical_cores"]
    return {"n": n, "cores": cores, "ours": n / scan["seconds"], "faiss": n / faiss["seconds"]}


def n_independent(fit: dict[str, Any] | None) -> tuple[float, float, float] | None:
    """(whole fit, scan, rest) seconds of bench_fit's profiled NUDGE-N fit at its size."""
    prof = ((fit or {}).get("ours", {}).get("N") or {}).get("profile_s") or {}
    whole = prof.get("whole fit")
    scan = prof.get("untouched competitors: one top-k pass over the corpus")
    return None if whole is None or scan is None else (whole, scan, whole - scan)


def where_block(scale: dict[int, dict[str, Any]], fit_1m: dict[str, Any] | None) -> str:
    """The fit is the scan plus a part that does not grow with n: how large, measured."""
    part = n_independent(fit_1m)
    n = max(scale)
    cases = scale[n]["cases"]
    single = ""
    if "seconds" in cases.get("scan-mmap", {}) and "seconds" in cases.get("memmap-N", {}):
        single = (
            f" The single {n // 1_000_000}M runs above, each in its own process, give "
            f"{cases['scan-mmap']['seconds']:.1f} s for the scan alone and "
            f"{cases['memmap-N']['seconds']:.1f} s for the np.memmap fit."
        )
    if part is None:
        return "Where the time goes at scale: not profiled (no fit-1000000.json)." + single
    whole, scan, rest = part
    return (
        f"Where the time goes at scale: the fit is the scan plus {rest:.2f} s of work that "
        f"does not grow with n (NUDGE-N at 1M, profiled by `bench_fit.py`: whole fit "
        f"{whole:.2f} s, scan {scan:.2f} s; [Fit benchmarks](benchmarks.md)).{single}"
    )


def mb(nbytes: float) -> str:
    """Bytes as MB or KB, two significant digits (1,536,000 -> 1.5 MB, 120,000 -> 120 KB)."""
    return f"{round2(nbytes / 1e6)} MB" if nbytes >= 1e6 else f"{round2(nbytes / 1e3)} KB"


def moved_records(scale: dict[int, dict[str, Any]]) -> int | None:
    """Records the largest scale run's np.memmap NUDGE-N fit moved (None: not recorded)."""
    moved = scale[max(scale)]["cases"].get("memmap-N", {}).get("n_moved")
    return None if moved is None else int(moved)


def traffic(scale: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Bytes and counts that cross the network, from the run's moved count and the settings."""
    record = D * 4
    moved = moved_records(scale)
    named = None if moved is None else moved + N_VAL  # touched + one relevant per val query
    per_block = N_VAL * K * ENTRY_BYTES
    blocks = {size: size // BLOCK_ROWS for size in (10**8, 10**9)}
    return {
        "moved": moved,
        "named": named,
        "queries": N_VAL * D * 4,
        "per_block": per_block,
        "blocks": blocks,
        "big_blocks": 10**9 // BIG_BLOCK_ROWS,
        "named_bytes": None if named is None else named * record,
        "moved_bytes": None if moved is None else moved * record,
    }


def about(count: int | None, what: str = "") -> str:
    """~count (two significant digits), or "not recorded"."""
    return "not recorded" if count is None else f"~{round2(count)}{what}"


def deployment_rows(
    t: dict[str, Any], core_s: dict[int, float], gb: dict[int, float], gamma: str
) -> list[str]:
    """The table of steps: where each runs, its cost at 100M and 1B, what crosses the network."""
    named = about(t["named"])
    named_mb = (
        "-" if t["named_bytes"] is None else f"~{mb(t['named_bytes'])} of vectors to the driver"
    )
    moved_mb = "-" if t["moved_bytes"] is None else f"~{mb(t['moved_bytes'])}"
    b100, b1b = t["blocks"][10**8], t["blocks"][10**9]
    return [
        "| step | where it runs | cost at 100M | cost at 1B | what crosses the network |",
        "|---|---|---|---|---|",
        f"| read named records (touched + validation-relevant, {named}) | driver, by id | "
        f"{named} random reads | same | {named_mb} |",
        "| competitor scan: each block's top-k for the validation queries | workers (Ray) or "
        f"query nodes (store) | {round2(core_s[10**8])} core-s of scan; {gb[10**8]:.0f} GB read "
        f"| {round2(core_s[10**9])} core-s; {gb[10**9] / 1e3:.2f} TB read | queries out "
        f"({mb(t['queries'])} per task today; once per node with `ray.put`); back: "
        f"{N_VAL:,} x {K} x {ENTRY_BYTES} B = {mb(t['per_block'])} per block |",
        f"| merge of per-block lists | driver, streamed | {b100:,} blocks of "
        f"{BLOCK_ROWS // 1000}k rows: {mb(b100 * t['per_block'])} in, m x k held | {b1b:,} "
        f"blocks: {mb(b1b * t['per_block'])} in (use {BIG_BLOCK_ROWS // 10**6}M-row blocks: "
        f"{mb(t['big_blocks'] * t['per_block'])}) | - |",
        f"| gamma search on the val x T block | driver | {gamma} | {gamma} | - |",
        f"| write moved vectors ({about(t['moved'], ' records')}) | driver -> store | ledger + "
        f"upsert | same | {moved_mb} |",
    ]


def deployment_block(scale: dict[int, dict[str, Any]], fit_1m: dict[str, Any] | None) -> str:
    """Measured rates, the projected costs at 100M and 1B, and a Ray cluster's share."""
    r = rates(scale)
    if r is None:
        return "Not projected: the largest scale run has no memmap scan and floor."
    per_core = r["ours"] / r["cores"]
    gflops = 2 * N_VAL * D * per_core / 1e9
    part = n_independent(fit_1m)
    rest = "not profiled" if part is None else f"{part[2]:.2f} s"
    gamma = "-" if part is None else ("< 1 s" if part[2] < 1 else f"{part[2]:.1f} s")
    core_s = {size: size / per_core for size in (10**8, 10**9)}
    gb = {size: size * D * 4 / 1e9 for size in (10**8, 10**9)}
    t = traffic(scale)
    moved = "an unrecorded number" if t["moved"] is None else f"{t['moved']:,}"
    lines = [
        f"Numbers from the {r['n'] // 1_000_000}M memmap runs above ({N_VAL:,} validation "
        f"queries, d = {D}, k = {K}): our scan processes **{r['ours'] / 1e3:.0f}k rows/s on "
        f"{r['cores']} cores ({per_core / 1e3:.0f}k rows/s per core, {gflops:.0f} GFLOP/s per "
        f"core)**; FAISS {r['faiss'] / 1e3:.0f}k rows/s ({r['faiss'] / r['cores'] / 1e3:.0f}k "
        f"per core). A float32 record is {D * 4 / 1e3:.1f} KB; the corpus is "
        f"{gb[10**8]:.0f} GB at 100M records and {gb[10**9] / 1e3:.2f} TB at 1B. The part of a "
        f"fit that does not depend on n (reading the {about(t['named'])} named records: the "
        f"{moved} the {r['n'] // 1_000_000}M fit moved and at "
        f"most one per validation query; building the pull, the gamma search on the |val| x "
        f"|T| block) took {rest} in `bench_fit.py`'s profiled NUDGE-N fit at 1M.",
        "",
        *deployment_rows(t, core_s, gb, gamma),
        "",
        ray_cluster(core_s, gb, t),
    ]
    return "\n".join(lines)


def ray_cluster(core_s: dict[int, float], gb: dict[int, float], t: dict[str, Any]) -> str:
    """What 16 nodes of 16 cores make of the projected scan, and where the disk binds."""
    cores = NODES * CORES_PER_NODE
    scan = {size: s / cores for size, s in core_s.items()}
    per_node = {size: g / NODES for size, g in gb.items()}
    disk_s = per_node[10**9] / NVME_GB_S
    than = "more" if disk_s > scan[10**9] else "less"
    ram = 2 ** math.ceil(math.log2(per_node[10**9]))  # the next power-of-two RAM size
    return (
        f"**Ray cluster over shards on shared storage.** With {NODES} nodes x {CORES_PER_NODE} "
        f"cores ({cores} cores at the per-core rate above): 100M is ~{scan[10**8]:.0f} s of "
        f"scan per fit, each node holding {per_node[10**8]:.1f} GB of shards in page cache; 1B "
        f"is ~{scan[10**9]:.0f} s, each node owning ~{per_node[10**9]:.0f} GB, so the nodes "
        f"need more than {per_node[10**9]:.0f} GB of RAM ({ram} GB nodes) to keep their shards "
        "cached, or the scan becomes disk-bound "
        f"({per_node[10**9]:.0f} GB at {NVME_GB_S:.0f} GB/s of NVMe is ~{disk_s:.0f} s per node, "
        f"{than} than the compute). Blocks should be node-local (scheduling by shard, not "
        f"round-robin) so that only the queries and the {mb(t['per_block'])} lists cross the "
        f"network; at 1B with {BIG_BLOCK_ROWS // 10**6}M-row blocks the driver receives "
        f"~{mb(t['big_blocks'] * t['per_block'])} in total. A lost node costs its "
        "blocks' rerun (Ray retries them; the fit raises rather than return a partial result)."
    )
