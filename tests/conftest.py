"""Shared fixtures: real cowweb JVMs of each version, stopped by pid after each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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
