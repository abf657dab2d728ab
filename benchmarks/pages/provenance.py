"""What a results file recorded about its run, said in words (or "not recorded")."""

from __future__ import annotations

from typing import Any

NOT_RECORDED = "not recorded"


def blas_pools(run: dict[str, Any]) -> str:
    """Each BLAS library loaded and its thread count, e.g. ``openblas 0.3.31 (2 threads)``."""
    pools = run.get("threads", {}).get("pools")
    if not isinstance(pools, list):
        return str(pools or NOT_RECORDED)
    blas = [p for p in pools if p.get("user_api") == "blas"]
    return (
        ", ".join(
            f"{p.get('library') or p.get('prefix')} {p.get('version')} "
            f"({p.get('num_threads')} threads)"
            for p in blas
        )
        or "none loaded"
    )


def threads_phrase(run: dict[str, Any] | None) -> str:
    """numpy's BLAS, FAISS and torch versions and thread counts, as one sentence."""
    if not run:
        return (
            "numpy's BLAS and its thread count, FAISS's version and threads: not recorded "
            "by this run (`benchmarks/machine.py` records them in runs made since)"
        )
    blas = run.get("blas", {})
    threads = run.get("threads", {})
    versions = run.get("versions", {})
    faiss = (
        f"FAISS {versions.get('faiss-cpu', '?')} with {threads['faiss_omp']} OpenMP threads"
        if "faiss_omp" in threads
        else f"FAISS {versions.get('faiss-cpu', '?')} (not loaded)"
    )
    return (
        f"numpy's BLAS: {blas.get('name', '?')} {blas.get('version', '')}".rstrip()
        + f"; BLAS libraries loaded: {blas_pools(run)}; {faiss}; torch "
        f"{threads.get('torch', '?')} threads; recorded {run.get('date_utc', '?')}"
    )


def machine_phrase(m: dict[str, Any]) -> str:
    """CPU, cores, memory, GPU, Python and torch from either machine-record layout."""
    cores = m.get("cores", m.get("logical_cores", "?"))
    mem = (
        f"{m['memory_gib']} GiB RAM"
        if "memory_gib" in m
        else (f"{m['ram_gb']:.1f} GB RAM" if "ram_gb" in m else "RAM not recorded")
    )
    gpu = m.get("gpu", "none")
    numpy = f", numpy {m['numpy']}" if "numpy" in m else ""
    return (
        f"{m.get('cpu', '?')}, {cores} cores, {mem}, {'no GPU' if gpu == 'none' else gpu}; "
        f"Python {m.get('python', '?')}{numpy}, torch {m.get('torch', '?')} with "
        f"{m.get('torch_threads', '?')} thread{'' if m.get('torch_threads') == 1 else 's'}"
    )
