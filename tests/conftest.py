"""Shared fixtures: real cowweb JVMs of each version, stopped by pid after each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.jvms import JAVA_VERSIONS, RunningJvm, start_cowweb, stop


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
