"""Shared fixtures: real cowweb JVMs of each version, stopped by pid after each test; and the
rule that under `CI=true` a skip is a failure: a run that skipped the tests needing root,
javac, a JDK version or a kernel feature must not look green. Outside CI the tests still skip,
and the summary says how many and why.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.jvms import JAVA_VERSIONS, RunningJvm, start_cowweb, stop

# Image pulls are free in tests that are not about them (kubesim/kubelet/pulls.py); the pull
# tests and the benchmarks that measure pulls give KubeSim their own PullModel.
os.environ.setdefault("KUBESIM_PULLS", "instant")


@pytest.fixture
def cowweb_factory(tmp_path: Path) -> Iterator[Callable[..., RunningJvm]]:
    """Start cowweb JVMs (`factory(version, deadlock=..., jvm_args=...)`); all stop afterwards."""
    started: list[RunningJvm] = []

    def factory(version: int = 25, **kwargs: Any) -> RunningJvm:
        jvm = start_cowweb(version, tmp_path, **kwargs)
        started.append(jvm)
        return jvm

    yield factory
    for jvm in started:
        stop(jvm)


@pytest.fixture(params=JAVA_VERSIONS, ids=[f"jdk{v}" for v in JAVA_VERSIONS])
def java_version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(scope="session")
def is_root() -> bool:
    return os.geteuid() == 0


# Skips that are a choice of the run, not a missing prerequisite: benchmarks outside
# `make bench` (pytest-benchmark's --benchmark-skip) and the rest during it (--benchmark-only).
_CHOSEN_SKIPS = ("--benchmark-skip", "--benchmark-only")
_SKIPS = pytest.StashKey[Counter[str]]()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if any(chosen in reason for chosen in _CHOSEN_SKIPS):
        return
    if _in_ci():
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: this test would have skipped ({reason}); CI must run it, so it fails. "
            "Give the CI machine what it needs (root, javac, the JDKs: make bootstrap)."
        )
    else:
        item.config.stash.setdefault(_SKIPS, Counter())[reason] += 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    skips = config.stash.get(_SKIPS, Counter())
    if not skips:
        return
    total = sum(skips.values())
    terminalreporter.write_sep("=", f"{total} tests skipped (under CI=true they would fail)")
    for reason, count in skips.most_common():
        terminalreporter.write_line(f"{count:5d} skipped: {reason}")


@pytest.fixture(scope="session")
def workload_recording(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, str], Path]:
    """`workload_recording(version, workload)`: a JFR recording (settings=profile) of
    ProfileWorkloads `cpu`, `alloc` or `lock` on that JDK, made once per session."""
    from tests.support.profile_workloads import compile_workloads, record_workloads

    classes = compile_workloads(tmp_path_factory.mktemp("profile-workloads"))
    made: dict[tuple[int, str], Path] = {}

    def recording(version: int, workload: str) -> Path:
        if (version, workload) not in made:
            out = tmp_path_factory.mktemp(f"jfr-jdk{version}")
            for name, path in record_workloads(version, classes, out).items():
                made[version, name] = path
        return made[version, workload]

    return recording
