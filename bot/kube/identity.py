"""Who the debug process must be: the JVM's uid/gid, and a securityContext that gets it
there and passes the namespace's PodSecurity level.

HotSpot answers only its own euid/egid (or root), and the kernel lets a same-uid caller
with no extra capabilities into /proc/<pid>/root. So for a non-root JVM the debug container
runs as that uid/gid with every capability dropped (PodSecurity `restricted` accepts that);
for a root JVM it stays root with the runtime's default capabilities plus whatever the app
container added (a root caller needs a superset of the target's capabilities). Never
SYS_PTRACE: baseline and restricted both forbid it, and it is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.kube.podjson import PodJson, container_spec
from bot.kube.probe import UNKNOWN_LEVEL, Probe
from bot.kube.targets import KubeTarget


@dataclass(frozen=True)
class Identity:
    """uid/gid of the JVM when known; `source` says how we learnt it (shown in logs)."""

    uid: int | None
    gid: int | None
    source: str

    @property
    def known(self) -> bool:
        return self.uid is not None and self.gid is not None


def declared_identity(pod: PodJson, container: str) -> Identity:
    """runAsUser/runAsGroup from the container's securityContext, then the pod's."""
    pod_sc = pod.get("spec", {}).get("securityContext", {})
    container_sc = container_spec(pod, container).get("securityContext", {})
    uid = container_sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = container_sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    return Identity(
        uid if isinstance(uid, int) else None,
        gid if isinstance(gid, int) else None,
        "securityContext",
    )


async def exec_identity(probe: Probe, target: KubeTarget, declared: Identity) -> Identity:
    """The declared uid/gid, completed by a cheap `id` exec in the app container."""
    found = await probe.identity(target.namespace, target.name, target.container)
    if found is None:
        return declared
    uid = declared.uid if declared.uid is not None else found[0]
    gid = declared.gid if declared.gid is not None else found[1]
    return Identity(uid, gid, "exec id")


def added_capabilities(pod: PodJson, container: str) -> list[str]:
    caps = container_spec(pod, container).get("securityContext", {}).get("capabilities", {})
    return [str(x) for x in caps.get("add", [])]


def debug_security_context(
    identity: Identity, level: str, app_caps: list[str]
) -> dict[str, Any] | str:
    """The debug container's securityContext, or why none can attach under `level`."""
    base: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if identity.known and identity.uid != 0:
        return {
            **base,
            "runAsUser": identity.uid,
            "runAsGroup": identity.gid,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
    if level in ("restricted", UNKNOWN_LEVEL):
        # Not allowed to read the namespace: assume the strictest, so nothing we build is
        # rejected for a reason we could have foreseen.
        enforces = (
            "the namespace enforces PodSecurity restricted"
            if level == "restricted"
            else "the namespace's PodSecurity level cannot be read (get namespaces is not "
            "allowed), so it counts as restricted"
        )
        if identity.known:
            return (
                f"the JVM runs as root and {enforces}, which forbids root containers: no "
                "debug container can attach"
            )
        return (
            f"the JVM's uid is unknown (no runAsUser, and exec is not allowed to ask) and "
            f"{enforces}"
        )
    # Root: the agent drops to the JVM's uid itself when the JVM turns out to be non-root.
    context: dict[str, Any] = {**base, "runAsUser": 0}
    if identity.gid is not None:
        context["runAsGroup"] = identity.gid
    if app_caps:
        context["capabilities"] = {"add": app_caps}
    return context
