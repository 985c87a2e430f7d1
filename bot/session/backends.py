"""Pick where JVMs are looked for: a cluster when a kubeconfig or in-cluster configuration
is available, otherwise this machine (the embedded default for the demo and a laptop)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.backends.protocols import Backend
from bot.kube.api import KubeApi
from bot.kube.backend import DEFAULT_ORDER, KubeBackend
from bot.kube.strategies.context import KubeSettings
from bot.local.strategy import LocalBackend


def strategy_order(text: str | None) -> Sequence[str]:
    """`exec,sidecar,ephemeral,node` (the default order) from a comma list."""
    if not text:
        return DEFAULT_ORDER
    return tuple(part.strip() for part in text.split(",") if part.strip())


def choose_backend(
    kubeconfig: str | None = None,
    *,
    java_home: Path | None = None,
    namespace: str | None = None,
    debug_image: str | None = None,
    strategies: str | None = None,
    node_namespace: str | None = None,
    owner: dict[str, Any] | None = None,
) -> Backend:
    """Kubernetes when `kubeconfig`, $KUBECONFIG or in-cluster configuration is there.

    Arguments left out come from the environment (JDEBUG_*), as `jdebug run` documents.
    """
    api = KubeApi.from_environment(kubeconfig)
    if api is None:
        return LocalBackend(java_home=java_home)
    env = os.environ.get
    defaults = KubeSettings()
    settings = KubeSettings(
        debug_image=debug_image or env("JDEBUG_DEBUG_IMAGE") or defaults.debug_image,
        default_namespace=namespace or env("JDEBUG_NAMESPACE") or defaults.default_namespace,
        node_namespace=node_namespace
        or env("JDEBUG_NODE_NAMESPACE")
        or env("POD_NAMESPACE")
        or defaults.node_namespace,
        owner=owner,
    )
    return KubeBackend(api, settings, strategy_order(strategies or env("JDEBUG_STRATEGIES")))


def owner_reference(pod_name: str | None, pod_uid: str | None) -> dict[str, Any] | None:
    """An ownerReference to the bot's own pod (downward API), when it runs in one."""
    if not pod_name or not pod_uid:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod_name,
        "uid": pod_uid,
        "controller": False,
        "blockOwnerDeletion": False,
    }
