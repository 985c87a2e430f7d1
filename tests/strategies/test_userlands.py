"""The attach matrix on the minimal userlands: JVMs on distroless (no shell) and busybox
images, root, uid 1000, an arbitrary uid with gid 0 (as OpenShift assigns), under PodSecurity
privileged, baseline and restricted, with and without a shared process namespace, JDK 11 to
25; through ephemeral containers (the default debug image, or the app's own when it has a
shell) and node debug pods. `exec` into a distroless JVM says why it cannot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.model.errors import StrategyUnavailable
from bot.session.run import run_request
from kubesim import KubeSim
from tests.faults.leftovers import assert_nothing_left
from tests.strategies.conftest import backend_for, namespace, needs_root, request, sim_of

pytestmark = needs_root

RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pod(
    name: str, ns: str, image: str, security: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if security:
        container["securityContext"] = security
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [container], **spec},
    }


# name: (namespace, JDK, pod)
PODS: dict[str, tuple[str, int, dict[str, Any]]] = {
    "distroless-root": (
        "baseline",
        21,
        pod("distroless-root", "baseline", "jdebug.local/cowweb:21-distroless"),
    ),
    "distroless-nonroot": (
        "restricted",
        21,
        pod(
            "distroless-nonroot",
            "restricted",
            "jdebug.local/cowweb:21-distroless-nonroot",
            {**RESTRICTED, "runAsUser": 65532, "runAsGroup": 65532},
        ),
    ),
    "busybox-root": (
        "baseline",
        21,
        pod("busybox-root", "baseline", "jdebug.local/cowweb:21-busybox"),
    ),
    "arbitrary-uid": (
        "restricted",
        17,
        pod(
            "arbitrary-uid",
            "restricted",
            "jdebug.local/cowweb:17",
            {**RESTRICTED, "runAsUser": 1000870000, "runAsGroup": 0},
        ),
    ),
    "uid1000": (
        "restricted",
        25,
        pod(
            "uid1000",
            "restricted",
            "jdebug.local/cowweb:25-uid1000",
            {**RESTRICTED, "runAsUser": 1000, "runAsGroup": 1000},
        ),
    ),
    "shared-pid": (
        "privileged",
        11,
        pod("shared-pid", "privileged", "jdebug.local/cowweb:11", shareProcessNamespace=True),
    ),
}
WORLD = [
    namespace("jdebug", "privileged"),
    namespace("privileged", "privileged"),
    namespace("baseline", "baseline"),
    namespace("restricted", "restricted"),
    *(p for _, _, p in PODS.values()),
]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    yield from sim_of(tmp_path_factory, "userlands", WORLD)


@pytest.mark.parametrize("name", list(PODS))
@pytest.mark.parametrize("strategy", ["ephemeral", "node"])
async def test_version_answers_on_every_userland_and_identity(
    sim: KubeSim, name: str, strategy: str
) -> None:
    ns, jdk, _ = PODS[name]

    result = await run_request(
        request(f"version pod={name} ns={ns}"), backend_for(sim, order=(strategy,))
    )

    assert result.raw.strategy == strategy
    assert f"JDK {jdk}." in result.raw.steps[0].text
    assert_nothing_left(sim, ns, name)


async def test_a_thread_dump_of_a_distroless_jvm_through_the_default_image(sim: KubeSim) -> None:
    result = await run_request(
        request("threaddump pod=distroless-nonroot ns=restricted"),
        backend_for(sim, order=("exec", "ephemeral")),
    )

    assert result.raw.strategy == "ephemeral"
    assert "Full thread dump" in result.raw.steps[0].text
    pod = sim.cluster.store.get("pods", "restricted", "distroless-nonroot") if sim.cluster else None
    assert pod is not None
    (debug,) = pod["spec"]["ephemeralContainers"][-1:]
    assert debug["image"] == "ghcr.io/jdebug-dev/jdebug-debug:0.1.0"
    assert debug["securityContext"]["runAsUser"] == 65532


async def test_exec_into_a_distroless_jvm_says_why_it_cannot(sim: KubeSim) -> None:
    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("version pod=distroless-root ns=baseline"), backend_for(sim, order=("exec",))
        )

    text = str(excinfo.value)
    assert (
        "exec: app: the image has no shell (/bin/sh), as distroless images do, so exec cannot "
        "run jdebug's agent there; an ephemeral container or a node debug pod can (the runtime "
        'said: exec: "/bin/sh": stat /bin/sh: no such file or directory)'
    ) in text, text
