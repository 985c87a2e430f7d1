"""When ephemeral containers are off or forbidden, the node strategy takes over; a bot killed
mid-request leaves nothing that its deadlines and the janitor do not remove; and the RBAC
in deploy/base/rbac.yaml is minimal: without any one rule, the matching strategy breaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.kube.janitor import sweep
from bot.kube.strategies.node import MANAGED_BY
from bot.session.run import run_request
from kubesim import KubeSim
from tests.strategies.conftest import (
    BOT,
    RBAC,
    REPO,
    backend_for,
    needs_root,
    request,
    wait_until_all_running,
)
from tests.strategies.rbac_variants import rule_ids, variant_account, write_variants
from tests.support.kube import admin_core_api
from tests.support.polling import wait_for

pytestmark = needs_root
SMALL = Path(__file__).parent / "manifests" / "small.yaml"


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> KubeSim:
    variants = write_variants(tmp_path_factory.mktemp("rbac") / "variants.yaml")
    with KubeSim(manifests=[SMALL, RBAC, variants]) as running:
        wait_until_all_running(running)
        yield running


@pytest.fixture(scope="module")
def old_sim() -> KubeSim:
    with KubeSim(manifests=[SMALL, RBAC], feature_gates={"EphemeralContainers": False}) as running:
        wait_until_all_running(running)
        yield running


def node_pods(sim: KubeSim) -> list:
    return (
        admin_core_api(sim)
        .list_namespaced_pod("jdebug", label_selector=f"{MANAGED_BY}=jdebug")
        .items
    )


async def test_cluster_without_ephemeral_containers_falls_back_to_node(old_sim):
    result = await run_request(request("flags pod=jvm-17 ns=apps"), backend_for(old_sim))
    assert result.raw.strategy == "node"
    assert "-XX:MaxHeapSize=67108864" in result.raw.steps[0].text
    assert result.cleanup.startswith("node debug pod jdebug-node-") and "deleted" in result.cleanup
    wait_for(lambda: node_pods(old_sim) == [], timeout=15)


async def test_ephemeral_forbidden_by_rbac_falls_back_to_node(sim):
    account = variant_account(next(r for r in rule_ids() if r == "ClusterRole/jdebug#4"))
    result = await run_request(
        request("version pod=jvm-17 ns=apps"), backend_for(sim, identity=f"jdebug/{account}")
    )
    assert result.raw.strategy == "node"
    assert "JDK 17" in result.raw.steps[0].text


def run_bot(sim: KubeSim, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "handlers", "run", "--kubeconfig", str(sim.kubeconfig(BOT)), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_bot_killed_mid_run_leaves_a_node_pod_the_janitor_removes(sim):
    before = {p.metadata.name for p in node_pods(sim)}
    bot = run_bot(
        sim,
        "--strategies",
        "node",
        "--deadline",
        "5",
        "threaddump pod=jvm-17 ns=apps count=3 interval=5s",
    )
    try:
        pod = wait_for(
            lambda: next((p for p in node_pods(sim) if p.metadata.name not in before), None)
        )
        os.kill(bot.pid, signal.SIGKILL)
    finally:
        bot.wait(10)
    assert pod.spec.active_deadline_seconds and pod.spec.active_deadline_seconds <= 60
    assert pod.metadata.labels["jdebug/session"]
    api = backend_for(sim).ctx.api
    assert pod.metadata.name not in await sweep(api, "jdebug")  # within its deadline: kept
    later = datetime.now(UTC) + timedelta(seconds=pod.spec.active_deadline_seconds + 60)
    assert pod.metadata.name in await sweep(api, "jdebug", now=later)
    wait_for(lambda: pod.metadata.name not in {p.metadata.name for p in node_pods(sim)}, 15)


def test_bot_killed_mid_run_leaves_an_ephemeral_container_that_ends_itself(sim):
    core = admin_core_api(sim)

    def ours():
        pod = core.read_namespaced_pod("jvm-17", "apps")
        return [s for s in pod.status.ephemeral_container_statuses or []]

    before = {s.name for s in ours()}
    bot = run_bot(
        sim,
        "--strategies",
        "ephemeral",
        "--deadline",
        "5",
        "threaddump pod=jvm-17 ns=apps count=2 interval=3s",
    )
    try:
        new = wait_for(lambda: [s for s in ours() if s.name not in before])
        os.kill(bot.pid, signal.SIGKILL)
    finally:
        bot.wait(10)
    name = new[0].name
    ended = wait_for(
        lambda: next((s for s in ours() if s.name == name and s.state.terminated), None), timeout=60
    )
    assert ended.state.terminated is not None


# Which request proves each rule, and what it must no longer be able to do without it.
RULE_EFFECTS = {
    "ClusterRole/jdebug#0": ("flags pod=jvm-17 ns=apps", 'cannot get resource "pods"'),
    "ClusterRole/jdebug#1": ("flags deploy=web ns=apps", 'cannot get resource "deployments"'),
    "ClusterRole/jdebug#2": ("flags pod=jvm-17 ns=apps", "PodSecurity level cannot be read"),
    "ClusterRole/jdebug#3": ("version pod=cowweb-jdk ns=apps", "strategy!=exec"),
    "ClusterRole/jdebug#4": ("flags pod=jvm-17 ns=apps", "strategy!=ephemeral"),
    "ClusterRole/jdebug#5": ("flags pod=jvm-17 ns=apps", "strategy!=ephemeral"),
    "Role/jdebug-node-pods#0": ("flags pod=jvm-17 ns=apps --strategies node", "create pods"),
    "Role/jdebug-node-pods#1": ("flags pod=jvm-17 ns=apps --strategies node", "pods/log"),
}


def test_every_rule_has_an_effect_listed():
    assert sorted(RULE_EFFECTS) == sorted(rule_ids())


@pytest.mark.parametrize("rule", sorted(RULE_EFFECTS))
async def test_removing_any_rule_breaks_the_matching_strategy(sim, rule):
    text, effect = RULE_EFFECTS[rule]
    order = ("exec", "sidecar", "ephemeral", "node")
    if " --strategies " in text:
        text, names = text.split(" --strategies ")
        order = tuple(names.split(","))
    full = (
        await run_request(request(text), backend_for(sim, order=order))
        if ("deploy=" not in text)
        else None
    )
    backend = backend_for(sim, identity=f"jdebug/{variant_account(rule)}", order=order)
    if effect.startswith("strategy!="):
        assert full is not None and full.raw.strategy == effect.removeprefix("strategy!=")
        result = await run_request(request(text), backend)
        assert result.raw.strategy != full.raw.strategy
        return
    from bot.model.errors import JdebugError

    with pytest.raises(JdebugError) as excinfo:
        await run_request(request(text), backend)
    # The refusal names the permission that is missing, not just "it failed".
    assert effect in excinfo.value.message


async def test_restricted_namespace_and_undeclared_uid_probe_as_nobody_first(sim):
    """No runAsUser and no exec to ask `id`: a uid-65534 probe container reads the JVM's
    uid from /proc, then the real debug container runs as it, restricted-compliant."""
    account = variant_account("ClusterRole/jdebug#3")  # without pods/exec
    core = admin_core_api(sim)
    before = len(core.read_namespaced_pod("nouid", "locked").spec.ephemeral_containers or [])
    result = await run_request(
        request("threaddump pod=nouid ns=locked"), backend_for(sim, identity=f"jdebug/{account}")
    )
    assert result.raw.strategy == "ephemeral"
    assert '"barn-door-holder"' in result.raw.steps[0].text
    added = core.read_namespaced_pod("nouid", "locked").spec.ephemeral_containers[before:]
    assert [c.security_context.run_as_user for c in added] == [65534, 1000]
    assert all(c.security_context.capabilities.drop == ["ALL"] for c in added)


async def test_debug_image_follows_the_apps_java_major(sim):
    result = await run_request(
        request("version pod=jvm-17 ns=apps"),
        backend_for(
            sim,
            debug_image="eclipse-temurin:{java_major}-jdk",
            debug_from_app_image=False,
            order=("ephemeral",),
        ),
    )
    core = admin_core_api(sim)
    last = core.read_namespaced_pod("jvm-17", "apps").spec.ephemeral_containers[-1]
    assert last.image == "eclipse-temurin:17-jdk"
    assert "JDK 17" in result.raw.steps[0].text
