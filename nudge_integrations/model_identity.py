"""Which embedding model made some vectors: its own name and a fingerprint of its vectors.

Vectors only make sense with the model that made them, so ledgers and saved fitters,
retrievers and engines record the model's identity and check it when they are loaded.
The name is the model's own (a model loaded from a local folder is named by the folder's
model card or its Hugging Face cache path, not by the folder's last part); the
fingerprint is what the model makes of three fixed probe strings, so the same name with
other weights is told apart too (:func:`compare`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: The probe strings a fingerprint embeds (as queries: what a loaded retriever does).
PROBES = (
    "What is the capital of France?",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "nudge-integrations model fingerprint probe #3: 0123456789",
)
#: Version of the probes and of the summary below; another version is not compared.
FINGERPRINT_VERSION = 1
#: Each unit-length probe vector is summed in this many consecutive blocks of components.
BLOCKS = 16
#: Largest difference of two block sums that still counts as the same model: the same
#: weights at bf16 instead of float32 differ by 0.005 (all-MiniLM-L6-v2), a 1% random
#: change of every weight by 0.02, a fine-tune or another model by far more.
TOLERANCE = 0.01

#: Folder names that say nothing about the model inside (a name is looked for elsewhere).
_GENERIC = {
    "model", "models", "snapshot", "snapshots", "main", "latest", "final", "output",
    "outputs", "weights", "checkpoint", "files", "hf", "st", "sentence-transformer",
}  # fmt: skip


@runtime_checkable
class EmbedsQueries(Protocol):
    """A LangChain ``Embeddings``."""

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class GetsQueryEmbeddings(Protocol):
    """A LlamaIndex ``BaseEmbedding``."""

    def get_query_embedding(self, query: str) -> list[float]: ...


@runtime_checkable
class Encodes(Protocol):
    """A sentence-transformers ``SentenceTransformer`` (or anything with ``encode``)."""

    def encode(self, sentences: Any, *args: Any, **kwargs: Any) -> Any: ...


# ---------------------------------------------------------------------------- names
def model_name(model: Any) -> str:
    """The model's own name: its ``model_name``, ``model``, ``model_id`` or
    ``deployment_name`` (a local folder's path gives the name the folder declares, see
    :func:`folder_model_name`), else the framework's ``class_name()``, else the class
    name. LlamaIndex's placeholder ``"unknown"`` does not count as a name."""
    given = _given_name(model)
    if given is not None:
        return folder_model_name(Path(given)) if _is_folder(given) else given
    return _class_name(model)


def legacy_model_name(model: Any) -> str:
    """The name versions before the fingerprint recorded: a local folder's last part
    (``"model"`` for the offline MiniLM), so their saves still load."""
    given = _given_name(model)
    if given is not None:
        return Path(given).name if os.path.isabs(given) else given
    return _class_name(model)


def _given_name(model: Any) -> str | None:
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value and value != "unknown":
            return value
    return None


def _class_name(model: Any) -> str:
    class_name = getattr(model, "class_name", None)
    if callable(class_name):
        try:
            named = class_name()
        except TypeError:
            named = None
        if isinstance(named, str) and named:
            return named
    return type(model).__name__


def _is_folder(value: str) -> bool:
    return os.path.isabs(value) or os.path.isdir(value)


def folder_model_name(folder: Path) -> str:
    """The name a model folder gives itself, never a path of this machine: the Hugging
    Face id of a hub cache snapshot (``models--org--name/snapshots/<rev>``); else the
    title of its model card (``README.md``'s first ``# name`` heading, when it is one
    word, as in ``# all-MiniLM-L6-v2``); else the folder's name unless it is a generic
    one such as ``model``; else ``_name_or_path`` in its ``config.json`` (often the model
    it was trained from); else ``parent/folder``."""
    for part in reversed(folder.parts):
        if part.startswith("models--") and part.count("--") >= 2:
            return part[len("models--") :].replace("--", "/")
    title = _card_title(folder / "README.md")
    if title is not None:
        return title
    if not _generic(folder.name):
        return folder.name
    configured = _config_name(folder / "config.json")
    if configured is not None:
        return configured
    return f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name


def _generic(name: str) -> bool:
    low = name.lower()
    return (
        not name
        or low in _GENERIC
        or re.fullmatch(r"[0-9a-f]{40}", low) is not None
        or re.fullmatch(r"checkpoint-\d+", low) is not None
    )


def _card_title(readme: Path) -> str | None:
    """The model card's first level-1 heading, when it is a single word (a model id)."""
    try:
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        ends = [n for n, line in enumerate(lines[1:], 1) if line.strip() == "---"]
        start = ends[0] + 1 if ends else len(lines)
    for line in lines[start:]:
        if line.startswith("# "):
            title = line[2:].strip()
            return title if title and not re.search(r"\s", title) and len(title) <= 100 else None
    return None


def _config_name(config: Path) -> str | None:
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(value, str) and value and not _is_folder(value):
        return value
    return None


# ---------------------------------------------------------------------------- fingerprint
@dataclass(frozen=True)
class Fingerprint:
    """What a model makes of :data:`PROBES`: each probe's unit vector summed in
    :data:`BLOCKS` blocks (``blocks``), its dimension, and a short digest for messages."""

    dim: int
    blocks: tuple[tuple[float, ...], ...]
    version: int = FINGERPRINT_VERSION

    @property
    def digest(self) -> str:
        """8 hex digits of the block sums rounded to 2 decimals (for people to compare;
        :meth:`differs_by` is the check)."""
        text = json.dumps([[round(x, 2) + 0.0 for x in row] for row in self.blocks])
        return hashlib.sha256(f"{self.dim}:{text}".encode()).hexdigest()[:8]

    def differs_by(self, other: Fingerprint) -> float:
        """The largest difference of two block sums (infinity for another dimension)."""
        if other.dim != self.dim or len(other.blocks) != len(self.blocks):
            return float("inf")
        a, b = np.asarray(self.blocks), np.asarray(other.blocks)
        return float(np.abs(a - b).max()) if a.size else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "dim": self.dim, "blocks": [list(r) for r in self.blocks]}

    @classmethod
    def from_json(cls, data: Any) -> Fingerprint | None:
        """A recorded fingerprint, or None where none (or another version) was recorded."""
        if not isinstance(data, Mapping) or data.get("version") != FINGERPRINT_VERSION:
            return None
        try:
            blocks = tuple(tuple(float(x) for x in row) for row in data["blocks"])
            return cls(int(data["dim"]), blocks)
        except (KeyError, TypeError, ValueError):
            return None


def _summary(vectors: Sequence[Any]) -> Fingerprint:
    rows = np.asarray(vectors, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] != len(PROBES) or rows.shape[1] == 0:
        raise ValueError(f"expected {len(PROBES)} vectors, got an array of shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise ValueError("the probe vectors hold NaN or infinity")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    rows = rows / np.maximum(norms, 1e-12)
    blocks = tuple(
        tuple(round(float(part.sum()), 6) for part in np.array_split(row, BLOCKS)) for row in rows
    )
    return Fingerprint(int(rows.shape[1]), blocks)


def fingerprint(model: Any) -> Fingerprint | None:
    """The model's :class:`Fingerprint` (three query embeddings; one ``encode`` call for a
    sentence-transformers model), or None for an object that cannot embed a query.
    Errors of the model itself propagate."""
    if isinstance(model, EmbedsQueries):
        vectors: Any = [model.embed_query(p) for p in PROBES]
    elif isinstance(model, GetsQueryEmbeddings):
        vectors = [model.get_query_embedding(p) for p in PROBES]
    elif isinstance(model, Encodes):
        vectors = np.asarray(model.encode(list(PROBES)))
    else:
        return None
    return _summary(vectors)


# ---------------------------------------------------------------------------- identity
def model_identity(model: Any, *, with_fingerprint: bool = False) -> dict[str, Any]:
    """``{"name": ..., "class": "module.Class"}`` of an embedding model, and with
    ``with_fingerprint`` its ``"fingerprint"`` (None where it cannot be made)."""
    cls = type(model)
    kind = f"{cls.__module__}.{cls.__qualname__}"
    out: dict[str, Any] = {"name": model_name(model), "class": kind}
    if with_fingerprint:
        found = fingerprint(model)
        out["fingerprint"] = None if found is None else found.as_json()
    return out


def describe(identity: Mapping[str, Any]) -> str:
    """``'name' (module.Class, fingerprint 1a2b3c4d)`` for messages."""
    found = Fingerprint.from_json(identity.get("fingerprint"))
    extra = f", fingerprint {found.digest}" if found is not None else ""
    return f"{identity.get('name')!r} ({identity.get('class')}{extra})"


@dataclass(frozen=True)
class Comparison:
    """How a given model compares with a recorded identity: ``same`` (load it),
    ``problem`` (why not: a name or fingerprint mismatch), ``note`` (what was not
    checked, e.g. a save from before fingerprints), ``given``: the model's identity."""

    same: bool
    given: dict[str, Any]
    problem: str | None = None
    note: str | None = None


def compare(recorded: Mapping[str, Any], model: Any) -> Comparison:
    """Check ``model`` against a recorded identity: the names must match and, where a
    fingerprint was recorded, the model's own must be within :data:`TOLERANCE`.

    A record without a fingerprint (saved by an earlier version) is checked by name
    alone, the earlier name of a local folder (its last part) accepted too; so is a model
    whose fingerprint cannot be made now. ``note`` then says what was not checked."""
    saved_name = str(recorded.get("name"))
    saved = Fingerprint.from_json(recorded.get("fingerprint"))
    given = model_identity(model)
    names_match = given["name"] == saved_name
    if saved is None:
        ok = names_match or legacy_model_name(model) == saved_name
        note = "it was saved without a model fingerprint, so only the model's name was checked"
        return Comparison(ok, given, None if ok else "another model name", note)
    if not names_match:
        try:
            now = fingerprint(model)
        except Exception:  # the model's own failure: only the hint below is lost
            now = None
        if now is not None:
            given["fingerprint"] = now.as_json()
        same_vectors = now is not None and now.differs_by(saved) <= TOLERANCE
        why = "another model name" + (
            "; its vectors for the probe strings match, so it may be the same model under "
            "another name"
            if same_vectors
            else ""
        )
        return Comparison(False, given, why)
    try:
        now = fingerprint(model)
    except Exception as exc:  # an API that is down: the load goes on, on the name alone
        note = (
            f"this model could not embed the probe strings ({type(exc).__name__}: {exc}): "
            "only its name was checked"
        )
        return Comparison(True, given, note=note)
    if now is None:
        return Comparison(
            True, given, note="this model cannot embed the probe strings: only its name was checked"
        )
    given["fingerprint"] = now.as_json()
    gap = now.differs_by(saved)
    if gap > TOLERANCE:
        what = (
            f"it makes {now.dim}-d vectors, not {saved.dim}-d"
            if now.dim != saved.dim
            else f"its vectors for the probe strings differ by up to {gap:.3g}, more than "
            f"the tolerance {TOLERANCE}"
        )
        return Comparison(False, given, f"the same name but other weights: {what}")
    return Comparison(True, given)
