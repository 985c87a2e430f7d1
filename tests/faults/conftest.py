"""A kubesim world for the fault tests (the seed's cowweb, the bot's RBAC), its faults cleared
after each test, fresh JVM pods for tests that stop one, and the fake Slack with a real bot."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.fakeslack.fixtures import fake_slack
from tests.faults.leftovers import adopting_orphans, jvm_pid
from tests.slack.conftest import start_bot
from tests.strategies.conftest import RBAC, wait_until_all_running
from tests.support.kube import admin_core_api
from tests.support.polling import wait_for

__all__ = ["fake_slack", "start_bot"]

WORLD = Path(__file__).parent / "manifests" / "world.yaml"


@pytest.fixture(scope="module")
def orphans() -> Iterator[None]:
    """This process adopts orphaned debug processes while the module runs (see
    `adopting_orphans`); it stops, and reaps the ended ones, after the module's kubesim."""
    with adopting_orphans():
        yield


@pytest.fixture(scope="module")
def sim(orphans: None) -> Iterator[KubeSim]:
    with KubeSim(manifests=[WORLD, RBAC]) as running:
        wait_until_all_running(running)
        yield running


@pytest.fixture(autouse=True)
def no_faults_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test plans its own faults; none outlives it (nor the journal of requests)."""
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").faults.clear()


@pytest.fixture
def jvm_pod(sim: KubeSim) -> Iterator[Callable[..., tuple[str, int]]]:
    """`jvm_pod(image)`: a new pod in `apps` whose cowweb answers; (its name, the JVM's host
    pid). Deleted afterwards, after a SIGCONT in case the test left its JVM stopped."""
    core = admin_core_api(sim)
    made: list[tuple[str, int]] = []

    def make(image: str = "jdebug.local/cowweb:25") -> tuple[str, int]:
        name = f"cowweb-{secrets.token_hex(3)}"
        core.create_namespaced_pod(
            "apps",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "apps"},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        )

        def listening() -> bool:
            try:
                return "cowweb listening on port" in core.read_namespaced_pod_log(name, "apps")
            except client.ApiException:  # 400 while the container is still being created
                return False

        wait_for(listening, 60, f"cowweb in {name} to listen")
        pid = jvm_pid(sim, "apps", name, "app")
        made.append((name, pid))
        return name, pid

    yield make
    for name, pid in made:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        core.delete_namespaced_pod(name, "apps", grace_period_seconds=0)
