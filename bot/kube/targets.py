"""Resolve a request's selector to one running pod and container in a namespace.

`pod=` is an exact name or a unique prefix (`cowweb` finds `cowweb-7d9f8-x2k4p`), as people
type it mid-incident; `deploy=` and `selector=` go through labels. The container is the one
named, else the pod's default (the `kubectl.kubernetes.io/default-container` annotation,
then the first container, as kubectl does), and the description says which was picked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.kube.api import KubeApi
from bot.kube.errors import KubeNotFound
from bot.kube.podjson import PodJson, as_pod, container_spec, pod_name, pod_namespace
from bot.kube.quantities import cpu_quantity, memory_quantity
from bot.model.errors import AmbiguousTarget, Choice, TargetNotFound
from bot.model.request import TargetSelector
from bot.model.results import Place, TargetFacts

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


@dataclass(frozen=True)
class KubeTarget:
    """One running pod and the container whose JVM we want, in a cluster; `pid` is the JVM's
    pid inside the container when the user gave one."""

    namespace: str
    name: str
    container: str
    pod: PodJson = field(compare=False, repr=False)
    cluster: str | None = None
    container_note: str = ""
    pid: int | None = None
    match: str | None = None

    @property
    def description(self) -> str:
        return f"{self.namespace}/{self.name} container {self.container}{self.container_note}"

    @property
    def place(self) -> Place:
        return Place(self.cluster, self.namespace, self.name, self.container, self.pid)

    @property
    def facts(self) -> TargetFacts:
        limits = container_spec(self.pod, self.container).get("resources", {}).get("limits", {})
        return TargetFacts(
            memory_limit_bytes=memory_quantity(limits.get("memory")),
            cpu_limit_cores=cpu_quantity(limits.get("cpu")),
        )

    @property
    def node(self) -> str | None:
        return self.pod.get("spec", {}).get("nodeName") or None


async def resolve_pods(
    api: KubeApi, target: TargetSelector, default_namespace: str
) -> list[PodJson]:
    """The candidate pods for a selector (one for `pod=`; several possible for labels)."""
    namespace = target.namespace or default_namespace
    if target.pod:
        return [await _pod_by_name_or_prefix(api, namespace, target.pod)]
    if target.deploy:
        deployment = await _deployment(api, namespace, target.deploy)
        labels = deployment.get("spec", {}).get("selector", {}).get("matchLabels") or {}
        if not labels:
            raise TargetNotFound(
                f"deployment {target.deploy} in {namespace} has no label "
                "selector jdebug can follow; use selector= or pod="
            )
        pods = [as_pod(p) for p in await api.list_pods(namespace, _selector_text(labels.items()))]
        what = f"deployment {target.deploy}"
    elif target.selector:
        pods = [as_pod(p) for p in await api.list_pods(namespace, _selector_text(target.selector))]
        what = f"selector {_selector_text(target.selector)}"
    else:
        raise TargetNotFound("say which pod: pod=NAME, deploy=NAME or selector=k=v")
    if not pods:
        raise TargetNotFound(f"no pod in {namespace} matches {what}")
    return sorted(pods, key=pod_name)


async def resolve_target(
    api: KubeApi, target: TargetSelector, default_namespace: str, cluster: str | None = None
) -> KubeTarget:
    """Exactly one running pod and its container, or a clear error listing the choices."""
    pods = await resolve_pods(api, target, default_namespace)
    if len(pods) > 1:
        names = tuple(pod_name(p) for p in pods)
        raise AmbiguousTarget(
            f"{len(names)} pods match: {', '.join(names[:10])}"
            f"{' …' if len(names) > 10 else ''}; pick one with pod=NAME",
            tuple(Choice(pod_name(p), "pod", f"{pod_namespace(p)}/{pod_name(p)}") for p in pods),
        )
    return target_in(pods[0], target, cluster)


def target_in(pod: PodJson, target: TargetSelector, cluster: str | None) -> KubeTarget:
    """The target in one candidate pod: it must be running, and its container is the one
    named or the pod's default."""
    require_running(pod)
    container, note = choose_container(pod, target.container)
    return KubeTarget(
        pod_namespace(pod), pod_name(pod), container, pod, cluster, note, pid=target.pid
    )


def require_running(pod: PodJson) -> None:
    """Refuse pods whose JVM cannot be running, saying what phase and why."""
    status = pod.get("status", {})
    phase = status.get("phase", "Unknown")
    if phase == "Running":
        return
    name = pod_name(pod)
    reasons = [status.get("reason"), status.get("message")]
    for cs in status.get("containerStatuses") or []:
        waiting = cs.get("state", {}).get("waiting") or {}
        if waiting.get("reason"):
            reasons.append(f"{cs.get('name')}: {waiting['reason']}")
    why = "; ".join(r for r in reasons if r)
    raise TargetNotFound(
        f"pod {name} is {phase}, not Running{f' ({why})' if why else ''}; "
        "there is no live JVM to attach to"
    )


def choose_container(pod: PodJson, wanted: str | None) -> tuple[str, str]:
    """(container name, a note on how it was chosen when the user did not name it)."""
    containers = [c.get("name", "") for c in pod.get("spec", {}).get("containers", [])]
    if wanted:
        if wanted not in containers:
            raise TargetNotFound(
                f"pod {pod_name(pod)} has no container {wanted}; "
                f"its containers are {', '.join(containers)}"
            )
        return wanted, ""
    if len(containers) == 1:
        return containers[0], ""
    annotated = pod.get("metadata", {}).get("annotations", {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if annotated in containers:
        return str(annotated), " (the pod's default container)"
    others = ", ".join(containers[1:])
    return containers[
        0
    ], f" (the first of {len(containers)}; others: {others}; pick with container=)"


async def _pod_by_name_or_prefix(api: KubeApi, namespace: str, name: str) -> PodJson:
    try:
        return as_pod(await api.get_pod(namespace, name))
    except KubeNotFound:
        pass
    pods = [as_pod(p) for p in await api.list_pods(namespace)]
    names = sorted(pod_name(p) for p in pods)
    prefixed = [p for p in pods if pod_name(p).startswith(name)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        candidates = sorted(pod_name(p) for p in prefixed)
        raise AmbiguousTarget(
            f"{len(candidates)} pods in {namespace} start with {name}: "
            f"{', '.join(candidates[:10])}{' …' if len(candidates) > 10 else ''}; "
            "give the full name",
            tuple(Choice(c, "pod", f"{namespace}/{c}") for c in candidates),
        )
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (
            f"; pods there: {', '.join(names[:8])}{' …' if len(names) > 8 else ''}"
            if names
            else "; that namespace has no pods"
        )
    )
    raise TargetNotFound(f"no pod {name} in {namespace}{hint}")


async def _deployment(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    try:
        return await api.get_deployment(namespace, name)
    except KubeNotFound:
        raise TargetNotFound(f"no deployment {name} in {namespace}") from None


def _selector_text(pairs: Iterable[tuple[Any, Any]]) -> str:
    return ",".join(f"{k}={v}" for k, v in pairs)
