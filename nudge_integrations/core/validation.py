"""Checks at the door: shapes, finiteness and zero vectors, with messages that say the fix.

Large matrices are checked in row chunks so that validating a million-row corpus never
allocates a second corpus-sized temporary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NonFiniteError, ShapeError, ZeroVectorError

_CHECK_CHUNK = 65536


def as_matrix(x: Any, name: str, *, dim: int | None = None, min_rows: int = 0) -> NDArray[Any]:
    """Return ``x`` as a 2-D float array (no copy where possible), checking its shape.

    float32 input (or a float32 ``np.memmap``) is returned as is; other numeric input is
    converted to float32.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu().numpy()
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ShapeError(f"{name} must be a numeric array of embeddings, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ShapeError(
            f"{name} must be 2-D (rows x dimensions), got shape {arr.shape}; "
            "wrap a single vector as [vector]"
        )
    if arr.shape[0] < min_rows:
        raise ShapeError(f"{name} needs at least {min_rows} row(s), got {arr.shape[0]}")
    if arr.shape[1] == 0:
        raise ShapeError(f"{name} has zero dimensions")
    if dim is not None and arr.shape[1] != dim:
        raise ShapeError(
            f"{name} has dimension {arr.shape[1]} but the corpus embeddings have dimension {dim}: "
            "embed queries and records with the same model"
        )
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


def check_finite_nonzero(arr: NDArray[Any], name: str, *, allow_zero: bool = False) -> None:
    """Raise if any row of ``arr`` holds NaN/inf or (unless allowed) is all zeros.

    One pass per chunk: a row's squared norm is finite and positive unless the row holds
    NaN/inf or is all zeros (or over/underflows, which the exact check then settles).
    """
    for start in range(0, arr.shape[0], _CHECK_CHUNK):
        block = np.asarray(arr[start : start + _CHECK_CHUNK])
        if block.dtype.kind == "f":
            sq = np.einsum("ij,ij->i", block, block)
            if np.isfinite(sq).all() and (allow_zero or (sq > 0).all()):
                continue
        _check_block(block, start, name, allow_zero)


def non_finite_row(name: str, row: int) -> NonFiniteError:
    """The error for row ``row`` of ``name`` holding NaN or infinity."""
    return NonFiniteError(
        f"{name} row {row} contains NaN or infinity: remove or re-embed that item"
    )


def zero_row(name: str, row: int) -> ZeroVectorError:
    """The error for row ``row`` of ``name`` being all zeros."""
    return ZeroVectorError(
        f"{name} row {row} is an all-zero vector, which has no direction: "
        "re-embed that item or drop it"
    )


def _check_block(block: NDArray[Any], start: int, name: str, allow_zero: bool) -> None:
    """The exact element-wise check of one chunk, naming the first bad row."""
    finite = np.isfinite(block).all(axis=1)
    if not finite.all():
        raise non_finite_row(name, start + int(np.flatnonzero(~finite)[0]))
    if not allow_zero:
        zero = ~block.any(axis=1)
        if zero.any():
            raise zero_row(name, start + int(np.flatnonzero(zero)[0]))


def validated_matrix(
    x: Any, name: str, *, dim: int | None = None, min_rows: int = 0, allow_zero: bool = False
) -> NDArray[np.float32]:
    """:func:`as_matrix` followed by :func:`check_finite_nonzero`."""
    arr = as_matrix(x, name, dim=dim, min_rows=min_rows)
    check_finite_nonzero(arr, name, allow_zero=allow_zero)
    return arr
