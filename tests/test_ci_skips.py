"""Under CI=true a test that would skip for want of a prerequisite fails, naming why; outside
CI it skips and the summary counts the skips by reason (the hooks in tests/conftest.py)."""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["pytester"]

NEEDS_ROOT = """
import os, pytest

@pytest.mark.skipif(True, reason="needs root for Linux namespaces")
def test_isolated():
    pass

def test_needs_javac():
    pytest.skip("javac is needed to compile the oracle")

def test_plain():
    pass
"""


def run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> pytest.RunResult:
    pytester.makepyfile(test_prereqs=NEEDS_ROOT)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    # Our conftest is loaded as a plugin, exactly as the suite loads it.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return pytester.run(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        str(pytester.path),
    )


def test_under_ci_a_skip_for_a_missing_prerequisite_fails_with_its_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(pytester, monkeypatch, "true")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*would have skipped (needs root for Linux namespaces)*"])
    result.stdout.fnmatch_lines(["*would have skipped (javac is needed to compile the oracle)*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and "skipped" not in outcomes
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 2


def test_outside_ci_skips_stay_skips_and_the_summary_counts_them_by_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(pytester, monkeypatch, None)
    assert result.ret == 0
    assert result.parseoutcomes() == {"passed": 1, "skipped": 2}
    result.stdout.fnmatch_lines(
        [
            "*2 tests skipped (under CI=true they would fail)*",
            "*1 skipped: needs root for Linux namespaces",
            "*1 skipped: javac is needed to compile the oracle",
        ]
    )
