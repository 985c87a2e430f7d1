"""A kubesim world for the strategy tests, with the bot's RBAC from deploy/base/rbac.yaml."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.commands.grammar import parse_command
from bot.kube.api import KubeApi
from bot.kube.backend import DEFAULT_ORDER, KubeBackend
from bot.kube.strategies.context import KubeSettings
from bot.model.request import Request
from kubesim import KubeSim

HERE = Path(__file__).parent
REPO = HERE.parents[1]
WORLD = HERE / "manifests" / "world.yaml"
RBAC = REPO / "deploy" / "base" / "rbac.yaml"
BOT = "jdebug/jdebug"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="kubesim runs pods in Linux namespaces, which needs root"
)


def wait_until_all_running(sim: KubeSim, timeout_s: float = 60) -> None:
    """Tests start once every pod's JVM runs, so none of them races the kubelet."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pods = api.list_pod_for_all_namespaces().items
        if pods and all(p.status.phase == "Running" for p in pods):
            return
        time.sleep(0.1)
    raise AssertionError("the test world's pods did not all reach Running")


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[WORLD, RBAC]) as running:
        wait_until_all_running(running)
        yield running


def backend_for(
    sim: KubeSim, identity: str = BOT, order: tuple[str, ...] = DEFAULT_ORDER, **settings: Any
) -> KubeBackend:
    api = KubeApi.from_kubeconfig(str(sim.kubeconfig(identity)))
    # A test that names a debug image wants that image, not the app's own.
    if "debug_image" in settings:
        settings.setdefault("debug_from_app_image", False)
    return KubeBackend(api, KubeSettings(**settings), order)


def request(text: str) -> Request:
    parsed = parse_command(text)
    assert isinstance(parsed, Request)
    return parsed


def namespace(name: str, level: str) -> dict[str, Any]:
    """A Namespace enforcing PodSecurity `level`."""
    labels = {"pod-security.kubernetes.io/enforce": level}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def sim_of(
    tmp_path_factory: pytest.TempPathFactory, name: str, documents: list[dict[str, Any]]
) -> Iterator[KubeSim]:
    """A kubesim of `documents` (and the bot's RBAC), once all its pods run."""
    import json

    world = tmp_path_factory.mktemp(name) / "world.yaml"
    world.write_text("\n---\n".join(json.dumps(doc) for doc in documents))
    with KubeSim(manifests=[world, RBAC]) as running:
        wait_until_all_running(running)
        yield running
