"""Under NUDGE_STRICT_SKIPS=1 (CI's full run) a test that skips for a missing dependency
fails, whether it asked through ``tests/optional.need`` or a bare ``pytest.importorskip``,
in a test or at module level; a skip for absent data stays a skip. Without it, all skip."""

from __future__ import annotations

import pytest

from .optional import STRICT_ENV

pytest_plugins = ["pytester"]

MISSING = "nudge_no_such_module"

TESTS = f"""
import pytest

from tests.optional import need


def test_through_the_helper():
    need({MISSING!r})


def test_bare_importorskip():
    pytest.importorskip({MISSING!r})


def test_data_absent():
    pytest.skip("SciFact embeddings not found (../shared is absent)")
"""

CONFTEST = """
from tests.conftest import pytest_configure
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A small suite with this repository's hooks: three skipping tests, two modules that
    skip at import (one through the helper, one bare), and a folder whose conftest skips."""
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_skips=TESTS,
        test_module_helper=f"from tests.optional import need\n\nneed({MISSING!r})\n",
        test_module_bare=f"import pytest\n\npytest.importorskip({MISSING!r})\n",
    )
    folder = pytester.mkpydir("needs_it")
    (folder / "conftest.py").write_text(f"import pytest\n\npytest.importorskip({MISSING!r})\n")
    (folder / "test_inside.py").write_text("def test_inside():\n    pass\n")
    return pytester


def test_missing_dependencies_skip_by_default(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STRICT_ENV, raising=False)
    result = suite.runpytest_inprocess("-rs")
    result.assert_outcomes(skipped=6)


@pytest.mark.parametrize("value", ["1", "yes"])
def test_strict_skips_fail_a_missing_dependency(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    result = suite.runpytest_inprocess("-rs", "--continue-on-collection-errors")
    result.assert_outcomes(failed=2, errors=3, skipped=1)  # errors: two modules, a folder
    result.stdout.fnmatch_lines([f"*missing optional dependency '{MISSING}'*{STRICT_ENV}=1*"])
    result.stdout.fnmatch_lines([f"*could not import '{MISSING}'*"])
    result.stdout.fnmatch_lines(["*SKIPPED*../shared is absent*"])


def test_strict_skips_off_when_set_to_zero(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRICT_ENV, "0")
    suite.runpytest_inprocess().assert_outcomes(skipped=6)
