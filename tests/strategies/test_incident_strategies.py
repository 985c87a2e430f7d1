"""`hot`, `gc`, `threaddump` with virtual threads and `profile` through Kubernetes: ephemeral
containers for a non-root JVM under PodSecurity restricted and a root one under baseline,
and node debug pods (host pids, mapped to the JVM's own through NSpid). The JVMs run the
test apps of tests/jvm/data (kubesim's jdebug.local/workloads images), whose answers are
known: the burner thread, the churner's garbage, 44 virtual threads, the burning method.
After each, nothing of jdebug is left in the JVM's /tmp.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.session.run import run_request
from kubesim import KubeSim
from tests.faults.leftovers import assert_nothing_left, jvm_pid
from tests.strategies.conftest import backend_for, namespace, needs_root, request, sim_of
from tests.support.workloads import BURNER

pytestmark = needs_root

REPO = Path(__file__).resolve().parents[2]
CLASSES = str(REPO / "build" / "workloads")
NON_ROOT = {
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pod(name: str, namespace: str, image: str, args: list[str], non_root: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": image,
        "command": ["java", "-Xmx64m", "-XX:+UseSerialGC", "-cp", CLASSES, *args],
    }
    if non_root:
        container["securityContext"] = NON_ROOT
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [container]},
    }


WORLD = [
    namespace("jdebug", "privileged"),
    namespace("restricted", "restricted"),
    namespace("baseline", "baseline"),
    pod("burner", "restricted", "jdebug.local/workloads:21", ["GcWorkloads", "burn"], True),
    pod("churner", "restricted", "jdebug.local/workloads:21", ["GcWorkloads", "churn"], True),
    pod("burner", "baseline", "jdebug.local/workloads:25", ["GcWorkloads", "burn"], False),
    pod("burner-11", "baseline", "jdebug.local/workloads:11", ["GcWorkloads", "burn"], False),
    pod("burner-17", "restricted", "jdebug.local/workloads:17", ["GcWorkloads", "burn"], True),
    pod("churner-11", "restricted", "jdebug.local/workloads:11", ["GcWorkloads", "churn"], True),
    pod("churner-25", "baseline", "jdebug.local/workloads:25", ["GcWorkloads", "churn"], False),
    pod(
        "virtual",
        "baseline",
        "jdebug.local/workloads:25",
        ["-Djdk.virtualThreadScheduler.parallelism=6", "VirtualThreads", "40"],
        False,
    ),
    pod("profiled", "restricted", "jdebug.local/workloads:25", ["ProfileWorkloads", "cpu"], True),
    pod(
        "allocating", "baseline", "jdebug.local/workloads:17", ["ProfileWorkloads", "alloc"], False
    ),
    pod("contending", "baseline", "jdebug.local/workloads:21", ["ProfileWorkloads", "lock"], False),
    # A JVM whose launcher is not named java (as jsvc's or install4j's are): comm is `jsvc`.
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "launcher", "namespace": "baseline"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "jdebug.local/workloads:25",
                    "command": [
                        "/bin/sh",
                        "-c",
                        'ln -s "$(command -v java)" /tmp/jsvc && exec /tmp/jsvc -Xmx64m -cp "$0" '
                        "GcWorkloads idle",
                        CLASSES,
                    ],
                }
            ]
        },
    },
]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    yield from sim_of(tmp_path_factory, "incident", WORLD)


def jdebug_files(sim: KubeSim, ns: str, name: str) -> list[str]:
    """jdebug's own files in the JVM's /tmp (recordings, settings, JSON dumps)."""
    tmp = Path(f"/proc/{jvm_pid(sim, ns, name)}/root/tmp")
    return sorted(p.name for p in tmp.glob("jdebug-*"))


# (namespace, pod, strategy): JDK 11, 17, 21 and 25; non-root under restricted, root under
# baseline; ephemeral and node.
HOT = [
    ("restricted", "burner", "ephemeral"),  # 21, uid 1000
    ("restricted", "burner-17", "ephemeral"),
    ("baseline", "burner", "ephemeral"),  # 25, root
    ("baseline", "burner", "node"),
    ("baseline", "burner-11", "node"),
    ("restricted", "burner-17", "node"),
]
GC = [
    ("restricted", "churner", "ephemeral"),  # 21, uid 1000
    ("restricted", "churner-11", "node"),
    ("baseline", "churner-25", "ephemeral"),
    ("baseline", "churner-25", "node"),
]


@pytest.mark.parametrize(("ns", "name", "strategy"), HOT)
async def test_hot_names_the_burning_thread(
    sim: KubeSim, ns: str, name: str, strategy: str
) -> None:
    result = await run_request(
        request(f"hot pod={name} ns={ns} interval=2s"), backend_for(sim, order=(strategy,))
    )

    assert result.raw.strategy == strategy
    assert BURNER in result.analysis.headline, result.analysis
    assert_nothing_left(sim, ns, name)


@pytest.mark.parametrize(("ns", "name", "strategy"), GC)
async def test_gc_on_a_churning_jvm_reports_pressure(
    sim: KubeSim, ns: str, name: str, strategy: str
) -> None:
    result = await run_request(
        request(f"gc pod={name} ns={ns} interval=3s"), backend_for(sim, order=(strategy,))
    )

    assert result.raw.strategy == strategy
    assert not result.analysis.headline.startswith("GC is calm"), result.analysis
    assert "Serial" in " ".join(result.analysis.findings), result.analysis
    assert_nothing_left(sim, ns, name)


@pytest.mark.parametrize("strategy", ["ephemeral", "node"])
async def test_threaddump_counts_the_virtual_threads_and_removes_its_json(
    sim: KubeSim, strategy: str
) -> None:
    result = await run_request(
        request("threaddump pod=virtual ns=baseline"), backend_for(sim, order=(strategy,))
    )

    assert "44 virtual threads" in result.analysis.headline, result.analysis
    assert [a.name for a in result.analysis.attachments] == ["threads.json"]
    assert jdebug_files(sim, "baseline", "virtual") == []
    assert_nothing_left(sim, "baseline", "virtual")


# (namespace, pod, event, what comes first, strategy): JDK 25 non-root under restricted, and
# JDK 17 and 21 as root under baseline.
PROFILES = [
    ("restricted", "profiled", "cpu", "ProfileWorkloads.burnCpu", "ephemeral"),
    ("restricted", "profiled", "cpu", "ProfileWorkloads.burnCpu", "node"),
    ("baseline", "allocating", "alloc", "ProfileWorkloads.allocatePayloads", "ephemeral"),
    ("baseline", "contending", "lock", "ProfileWorkloads$ContendedLock", "node"),
]


@pytest.mark.parametrize(("ns", "name", "event", "first", "strategy"), PROFILES)
async def test_profile_puts_the_known_method_site_or_lock_first(
    sim: KubeSim, ns: str, name: str, event: str, first: str, strategy: str
) -> None:
    result = await run_request(
        request(f"profile pod={name} ns={ns} duration=5s event={event}"),
        backend_for(sim, order=(strategy,)),
    )

    assert result.raw.strategy == strategy
    assert first in result.analysis.headline, result.analysis
    names = {a.name for a in result.analysis.attachments}
    assert {"flame.png", "collapsed.txt", "profile.jfr"} <= names
    assert jdebug_files(sim, ns, name) == []
    assert_nothing_left(sim, ns, name)


@pytest.mark.parametrize("strategy", ["ephemeral", "node"])
async def test_a_jvm_whose_launcher_is_not_java_is_found_without_pid(
    sim: KubeSim, strategy: str
) -> None:
    # The JVM's process is named jsvc: the agent's own scan (by comm) would miss it.
    assert any(
        p.joinpath("comm").read_text() == "jsvc\n"
        and b"GcWorkloads" in p.joinpath("cmdline").read_bytes()
        for p in Path("/proc").glob("[0-9]*")
        if p.joinpath("comm").exists()
    )

    listed = await run_request(
        request("jps pod=launcher ns=baseline"), backend_for(sim, order=(strategy,))
    )
    version = await run_request(
        request("version pod=launcher ns=baseline"), backend_for(sim, order=(strategy,))
    )

    assert any("GcWorkloads" in f for f in listed.analysis.findings), listed.analysis
    assert "JDK 25" in version.raw.steps[0].text
