"""Pick where JVMs are looked for: a cluster when a kubeconfig or in-cluster configuration
is available, otherwise this machine (the embedded default for the demo and a laptop)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bot.kube.api import KubeApi
from bot.kube.backend import DEFAULT_ORDER, KubeBackend
from bot.kube.strategies.context import KubeSettings
from bot.local.strategy import LocalBackend
from bot.strategy import Backend


def strategy_order(text: str | None) -> Sequence[str]:
    """`exec,sidecar,ephemeral` (the default order) from a comma list."""
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
) -> Backend:
    """Kubernetes when `kubeconfig`, $KUBECONFIG or in-cluster configuration is there."""
    api = KubeApi.from_environment(kubeconfig)
    if api is None:
        return LocalBackend(java_home=java_home)
    defaults = KubeSettings()
    settings = KubeSettings(
        debug_image=debug_image or os.environ.get("JDEBUG_DEBUG_IMAGE") or defaults.debug_image,
        default_namespace=namespace
        or os.environ.get("JDEBUG_NAMESPACE")
        or defaults.default_namespace,
    )
    return KubeBackend(
        api, settings, strategy_order(strategies or os.environ.get("JDEBUG_STRATEGIES"))
    )
