"""The Kubernetes backend: resolve `pod=`/`deploy=`/`selector=` to one container, then offer
the strategies in the configured order (least invasive first: exec, sidecar, ephemeral,
node). `acting_as` gives the same backend with every call impersonating one person."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cachetools import LRUCache

from bot.backends.protocols import Candidate, Strategy
from bot.kube.api import KubeApi
from bot.kube.podjson import pod_name, pod_namespace
from bot.kube.probe import Probe
from bot.kube.strategies.context import KubeContext, KubeSettings
from bot.kube.strategies.ephemeral import EphemeralStrategy
from bot.kube.strategies.exec import ExecStrategy, SidecarStrategy
from bot.kube.strategies.node import NodeStrategy
from bot.kube.targets import KubeTarget, resolve_pods, resolve_target, target_in
from bot.model.errors import JdebugError
from bot.model.identity import KubeIdentity
from bot.model.request import Request

STRATEGIES: dict[str, Callable[[KubeContext], Strategy[KubeTarget, Any]]] = {
    "exec": ExecStrategy,
    "sidecar": SidecarStrategy,
    "ephemeral": EphemeralStrategy,
    "node": NodeStrategy,
}
DEFAULT_ORDER = ("exec", "sidecar", "ephemeral", "node")


class KubeBackend:
    name = "kubernetes"

    def __init__(
        self,
        api: KubeApi,
        settings: KubeSettings | None = None,
        order: Sequence[str] = DEFAULT_ORDER,
    ) -> None:
        unknown = [name for name in order if name not in STRATEGIES]
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
        self.ctx = KubeContext(api, Probe(api), settings or KubeSettings())
        self.order = tuple(order)
        self._strategies = tuple(STRATEGIES[name](self.ctx) for name in self.order)
        self._acting: LRUCache[KubeIdentity, KubeBackend] = LRUCache(maxsize=256)

    def acting_as(self, identity: KubeIdentity) -> KubeBackend:
        """This backend as `identity`: the same connections and settings, and a probe of its
        own, kept per identity so each person's cached answers are theirs alone."""
        backend = self._acting.get(identity)
        if backend is None:
            backend = KubeBackend(self.ctx.api.acting_as(identity), self.ctx.settings, self.order)
            self._acting[identity] = backend
        return backend

    async def resolve(self, request: Request) -> KubeTarget:
        return await resolve_target(
            self.ctx.api,
            request.target,
            self.ctx.settings.default_namespace,
            self.ctx.settings.cluster,
        )

    async def resolve_all(self, request: Request) -> Sequence[Candidate]:
        namespace = request.target.namespace or self.ctx.settings.default_namespace
        found: list[Candidate] = []
        for pod in await resolve_pods(self.ctx.api, request.target, namespace):
            name = f"{pod_namespace(pod)}/{pod_name(pod)}"
            try:
                found.append((name, target_in(pod, request.target, self.ctx.settings.cluster)))
            except JdebugError as error:
                found.append((name, error))
        return found

    def strategies(self) -> Sequence[Strategy[KubeTarget, Any]]:
        return self._strategies
