"""One check for "these two fits learned the same thing": gamma, moved ids, vectors."""

from __future__ import annotations

import numpy as np
import pytest

from nudge_integrations.core import NudgeResult


def assert_same_fit(a: NudgeResult, b: NudgeResult, atol: float = 1e-5) -> None:
    """Same gamma (to float rounding), same moved ids (compared as strings), same vectors."""
    assert b.gamma == pytest.approx(a.gamma, rel=1e-5, abs=1e-7)
    da = {str(k): v for k, v in a.as_dict().items()}
    db = {str(k): v for k, v in b.as_dict().items()}
    assert sorted(da) == sorted(db)
    for key, vec in da.items():
        np.testing.assert_allclose(db[key], vec, atol=atol)
