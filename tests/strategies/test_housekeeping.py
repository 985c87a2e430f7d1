"""`jdebug serve` against a cluster: its janitor sweeps leftover node debug pods at start, and
node debug pods carry an ownerReference to the bot's own pod (downward API)."""

from __future__ import annotations

import asyncio
import time

from kubernetes import client, config

from bot.kube.strategies.node import MANAGED_BY
from bot.session.backends import build_backends
from bot.settings import JdebugSettings
from handlers.slack.app import BotServer
from handlers.slack.settings import SlackSettings
from tests.fakeslack import FakeSlack
from tests.strategies.conftest import BOT, backend_for, needs_root
from tests.support.settings import serve_settings

pytestmark = needs_root


def admin(sim) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))


def leftover_pod(name: str) -> dict:
    """A node debug pod whose bot died: finished, labelled as ours."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "jdebug", "labels": {MANAGED_BY: "jdebug"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "agent",
                    "image": "jdebug.local/busybox:latest",
                    "command": ["/bin/sh", "-c", "exit 0"],
                }
            ],
        },
    }


def settings_for(slack: FakeSlack, sim, **values) -> tuple[JdebugSettings, SlackSettings]:
    return serve_settings(
        slack_bot_token=slack.bot_token,
        slack_app_token=slack.app_token,
        slack_api_url=slack.api_url,
        health_port=0,
        kubeconfig=str(sim.kubeconfig(BOT)),
        **values,
    )


async def test_serve_sweeps_leftover_node_pods_at_start(sim):
    core = admin(sim)
    core.create_namespaced_pod("jdebug", leftover_pod("jdebug-node-dead1"))
    deadline = time.monotonic() + 30
    while core.read_namespaced_pod("jdebug-node-dead1", "jdebug").status.phase != "Succeeded":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    async with FakeSlack() as slack:
        core_settings, slack_settings = settings_for(slack, sim, node_namespace="jdebug")
        server = BotServer(core_settings, slack_settings, build_backends(core_settings))
        await server.start()
        try:
            while any(
                p.metadata.name == "jdebug-node-dead1"
                for p in core.list_namespaced_pod("jdebug").items
            ):
                assert time.monotonic() < deadline, "the janitor did not sweep the leftover"
                await asyncio.sleep(0.2)
        finally:
            await server.shutdown()


async def test_node_pods_are_owned_by_the_bot_pod_when_it_runs_in_one(sim):
    async with FakeSlack() as slack:
        settings, _ = settings_for(
            slack, sim, pod_name="jdebug-7f9c-abcde", pod_uid="1234-uid", pod_namespace="jdebug"
        )
        backend = build_backends(settings).default
    owner = backend.ctx.settings.owner  # type: ignore[attr-defined]
    assert owner == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "jdebug-7f9c-abcde",
        "uid": "1234-uid",
        "controller": False,
        "blockOwnerDeletion": False,
    }
    assert backend.ctx.settings.node_namespace == "jdebug"  # type: ignore[attr-defined]
    assert backend_for(sim).ctx.settings.owner is None
