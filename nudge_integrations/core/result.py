"""What a NUDGE fit learned: moved records' new vectors by id, gamma, the validation curve."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import ShapeError, UnknownIdError
from nudge_integrations.core.validation import as_matrix

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ValidationSource = Literal["given", "split", "none"]

_APPLY_CHUNK = 65536


@dataclass(frozen=True)
class NudgeResult:
    """The outcome of one fit.

    Only records that moved are stored (``ids``, ``rows``, ``vectors``), so a fit over a
    million records costs memory in proportion to the training set, not the corpus. Every
    other record keeps its base vector. ``curve`` maps each gamma tried to its validation
    metric, so users can see why ``gamma`` was chosen.
    """

    variant: Literal["N", "M"]
    gamma: float
    ids: list[Hashable]
    rows: NDArray[np.int64]
    vectors: NDArray[np.float32]
    curve: dict[float, float]
    metric: str
    k: int
    validation_source: ValidationSource
    n_records: int
    dim: int
    n_touched: int
    baseline_score: float | None = None
    best_score: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def similarity(self) -> Literal["dot", "cosine"]:
        """How to serve the vectors: NUDGE-M needs inner product; NUDGE-N is unit-norm."""
        return "dot" if self.variant == "M" else "cosine"

    @property
    def moved_ids(self) -> list[Hashable]:
        """Ids (or rows, when fitted without ids) of the records whose vector changed."""
        return list(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, key: object) -> bool:
        return key in self._position

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.ids)

    @property
    def _position(self) -> dict[Hashable, int]:
        cache: dict[Hashable, int] | None = self.__dict__.get("_pos_cache")
        if cache is None:
            cache = {key: i for i, key in enumerate(self.ids)}
            object.__setattr__(self, "_pos_cache", cache)
        return cache

    def vector(self, key: Hashable) -> NDArray[np.float32]:
        """The nudged vector of a moved record."""
        try:
            row: NDArray[np.float32] = self.vectors[self._position[key]]
            return row
        except KeyError:
            raise UnknownIdError(
                f"record {key!r} did not move in this fit (no training query, or gamma "
                "left it in place): its base vector is unchanged"
            ) from None

    def as_dict(self) -> dict[Hashable, NDArray[np.float32]]:
        """``{id: nudged vector}`` for every moved record."""
        return {key: self.vectors[i] for i, key in enumerate(self.ids)}

    def apply(self, base: Any, *, out: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        """Full nudged matrix: the L2-normalised ``base`` with the moved rows replaced.

        Pass ``out=base`` (a float32 array) to write only the moved rows in place, leaving
        every other row untouched and allocating nothing corpus-sized.
        """
        if len(self.rows) and self.rows.min() < 0:
            raise ShapeError(
                "this fit was made by id against a store or shards, not a corpus matrix: "
                "write its vectors by id (as_dict(), or swap_in the store)"
            )
        if out is not None:
            if out.shape != (self.n_records, self.dim) or out.dtype != np.float32:
                raise ShapeError(
                    f"out must be float32 of shape {(self.n_records, self.dim)}, got "
                    f"{out.dtype} {out.shape}"
                )
            out[self.rows] = self.vectors
            return out
        arr = as_matrix(base, "base embeddings", dim=self.dim)
        if arr.shape[0] != self.n_records:
            raise ShapeError(
                f"base has {arr.shape[0]} rows but the fit saw {self.n_records} records"
            )
        result = np.empty((self.n_records, self.dim), dtype=np.float32)
        for start in range(0, self.n_records, _APPLY_CHUNK):
            block = np.asarray(arr[start : start + _APPLY_CHUNK], dtype=np.float32)
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            result[start : start + len(block)] = block / np.maximum(norms, 1e-12)
        result[self.rows] = self.vectors
        return result

    def to_state(self) -> dict[str, Any]:
        """Everything but the vectors, as JSON-ready values (ids as strings)."""
        return {
            "variant": self.variant,
            "gamma": self.gamma,
            "ids": [str(i) for i in self.ids],
            "rows": self.rows.tolist(),
            "curve": [[g, s] for g, s in self.curve.items()],
            "metric": self.metric,
            "k": self.k,
            "validation_source": self.validation_source,
            "n_records": self.n_records,
            "dim": self.dim,
            "n_touched": self.n_touched,
            "baseline_score": self.baseline_score,
            "best_score": self.best_score,
            "notes": list(self.notes),
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], vectors: NDArray[np.float32], **defaults: Any
    ) -> NudgeResult:
        """Rebuild what :meth:`to_state` wrote, with its moved vectors; ``defaults`` fill
        keys older saves lack (``variant``, ``n_records``, ``dim``)."""
        full = {**defaults, **state}
        return cls(
            variant=full["variant"],
            gamma=float(full["gamma"]),
            ids=list(full["ids"]),
            rows=np.asarray(full["rows"], dtype=np.int64),
            vectors=np.asarray(vectors, dtype=np.float32),
            curve={float(g): float(s) for g, s in full["curve"]},
            metric=full["metric"],
            k=int(full["k"]),
            validation_source=full["validation_source"],
            n_records=int(full["n_records"]),
            dim=int(full["dim"]),
            n_touched=int(full["n_touched"]),
            baseline_score=full["baseline_score"],
            best_score=full["best_score"],
            notes=tuple(full["notes"]),
        )

    def plot_curve(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """The validation curve with the chosen gamma marked; needs the ``plots`` extra.

        See :func:`nudge_integrations.core.plots.plot_curve` (``ax``, ``title``); imported here
        lazily so the core never imports matplotlib.
        """
        from nudge_integrations.core.plots import plot_curve

        return plot_curve(self, path, **kwargs)

    def summary(self) -> str:
        """One line for logs and notebooks."""
        score = ""
        if self.best_score is not None and self.baseline_score is not None:
            score = (
                f", validation {self.metric}@{self.k} {self.baseline_score:.4f} -> "
                f"{self.best_score:.4f}"
            )
        return (
            f"NUDGE-{self.variant}: gamma={self.gamma:.4g}, moved {len(self.ids)} of "
            f"{self.n_records} records ({self.n_touched} had training queries), "
            f"validation: {self.validation_source}{score}"
        )
