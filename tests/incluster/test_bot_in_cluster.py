"""The whole product in one test: the rendered socket-mode overlay runs the real `jdebug
serve` as two pods inside kubesim (in-cluster configuration, exactly the RBAC deploy/
grants), they connect to the fake Slack, and `/jdebug threaddump pod=cowweb ns=apps` from
Slack posts the real thread dump of a JVM in another namespace, through an ephemeral
container. Needs root (kubesim runs pods in Linux namespaces)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from kubesim import KubeSim
from tests.fakeslack import FakeSlack
from tests.support.own_port_probe import on_own_ports

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kubesim needs root for namespaces")
REPO = Path(__file__).resolve().parents[2]
USER = "U0ONCALL01"

APPS = """
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels: {pod-security.kubernetes.io/enforce: baseline}
---
# ../shared/seed/cowweb.yaml, in namespace apps: a root JVM on a JRE 11 image.
apiVersion: v1
kind: Pod
metadata:
  name: cowweb
  namespace: apps
spec:
  shareProcessNamespace: true
  containers:
  - name: cowweb
    image: registry.hub.docker.com/hhayakaw/cowweb:v2.1
    ports: [{name: http, containerPort: 8080}]
"""


def rendered_overlay(slack: FakeSlack, overlay: str = "socket-mode") -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl renders deploy/ (kubectl kustomize)"
    out = subprocess.run(
        [kubectl, "kustomize", str(REPO / "deploy/overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    settings = next(d for d in docs if d["kind"] == "ConfigMap")
    # kubesim's pods share the host's network: two replicas cannot both bind 8081, so each
    # takes a free port and its probes find it (tests/support/own_port_probe.py).
    settings["data"].update({"JDEBUG_HEALTH_PORT": "0", "JDEBUG_ALLOWED_USERS": USER})
    namespace = settings["metadata"]["namespace"]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "jdebug-slack", "namespace": namespace},
        "stringData": {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
        },
    }
    return on_own_ports([*docs, secret])


async def test_slash_command_in_slack_is_answered_by_the_bot_running_in_the_cluster(tmp_path):
    async with FakeSlack() as slack:
        manifest = tmp_path / "cluster.yaml"
        manifest.write_text(yaml.safe_dump_all(rendered_overlay(slack)) + "---\n" + APPS)
        with KubeSim(manifests=[manifest]) as sim:
            await slack.wait_for_connections(2, timeout=60)  # both replicas are up
            ack = await slack.send_slash_command(text="threaddump pod=cowweb ns=apps", user_id=USER)
            assert ack.elapsed < 3
            files = await slack.wait_for(
                lambda s: [f for f in s.files.values() if f.completed], timeout=60
            )
            dump = (files[0].data or b"").decode()
            assert '"barn-door-holder"' in dump and "Full thread dump" in dump
            (parent,) = slack.top_level_messages()
            assert files[0].thread_ts == parent.ts
            final = await slack.wait_for(
                lambda s: "ended" in str(s.messages[parent.ts].blocks), timeout=20
            )
            assert final
            blocks = str(slack.messages[parent.ts].blocks)
            assert "via *ephemeral*" in blocks and "debug container jdebug-" in blocks
            core = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
            pod = core.read_namespaced_pod("cowweb", "apps")
            (debug,) = pod.status.ephemeral_container_statuses
            assert debug.state.terminated is not None
            caps = pod.spec.ephemeral_containers[0].security_context.capabilities
            assert caps is None or "SYS_PTRACE" not in (caps.add or [])
            await asyncio.sleep(0)


async def test_deleting_the_bot_pod_garbage_collects_its_node_debug_pod(tmp_path):
    async with FakeSlack() as slack:
        docs = rendered_overlay(slack)
        settings = next(d for d in docs if d["kind"] == "ConfigMap")
        settings["data"]["JDEBUG_STRATEGIES"] = "node"
        manifest = tmp_path / "cluster.yaml"
        manifest.write_text(yaml.safe_dump_all(docs) + "---\n" + APPS)
        with KubeSim(manifests=[manifest]) as sim:
            await slack.wait_for_connections(2, timeout=60)
            core = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
            await slack.send_slash_command(
                text="threaddump pod=cowweb ns=apps count=3 interval=5s", user_id=USER
            )

            def node_pods() -> list[Any]:
                return core.list_namespaced_pod(
                    "jdebug", label_selector="app.kubernetes.io/managed-by=jdebug"
                ).items

            for _ in range(200):
                if node_pods():
                    break
                await asyncio.sleep(0.05)
            (node_pod,) = node_pods()
            (owner,) = node_pod.metadata.owner_references
            bot_pod = core.read_namespaced_pod(owner.name, "jdebug")
            assert owner.kind == "Pod" and owner.uid == bot_pod.metadata.uid
            core.delete_namespaced_pod(owner.name, "jdebug", grace_period_seconds=0)
            for _ in range(200):
                if not any(p.metadata.name == node_pod.metadata.name for p in node_pods()):
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("the node debug pod outlived the bot pod that owned it")


async def test_namespaced_install_refuses_other_namespaces_naming_the_permission(tmp_path):
    other = APPS.replace("name: apps", "name: other").replace("namespace: apps", "namespace: other")
    async with FakeSlack() as slack:
        manifest = tmp_path / "cluster.yaml"
        manifest.write_text(
            yaml.safe_dump_all(rendered_overlay(slack, "namespaced"))
            + "---\n"
            + APPS
            + "---\n"
            + other
        )
        with KubeSim(manifests=[manifest]):
            await slack.wait_for_connections(2, timeout=60)
            await slack.send_slash_command(text="version pod=cowweb ns=other", user_id=USER)
            told = await slack.wait_for(lambda s: s.responses, timeout=30)
            assert 'cannot get resource "pods"' in told[0].text
            assert 'in the namespace "other"' in told[0].text
            assert slack.messages == {}  # refused before anything was posted or started
            await slack.send_slash_command(text="version pod=cowweb ns=apps", user_id=USER)
            files = await slack.wait_for(
                lambda s: [f for f in s.files.values() if f.completed], timeout=60
            )
            assert "JDK 11" in (files[0].data or b"").decode()
