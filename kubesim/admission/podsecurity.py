"""PodSecurity admission (baseline and restricted) over the whole pod, with the real 403 text.

Checks run in the admission plugin's order: baseline checks, then restricted ones; at the
restricted level `capabilities_restricted` and `seccompProfile_restricted` replace their
baseline twins. Each failing check reads `<reason> (<detail>)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kubesim.status import ApiError, forbidden

BASELINE_CAPS = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
LEVELS = ("privileged", "baseline", "restricted")
Pod = dict[str, Any]
Check = Callable[[Pod], str | None]


def _containers(pod: Pod) -> Iterator[dict[str, Any]]:
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _sc(c: dict[str, Any]) -> dict[str, Any]:
    return c.get("securityContext") or {}


def _who(names: list[str]) -> str:
    noun = "container" if len(names) == 1 else "containers"
    return f"{noun} " + ", ".join(f'"{n}"' for n in names)


def _quote(items: list[str]) -> str:
    return ", ".join(f'"{i}"' for i in items)


def _caps_added(c: dict[str, Any]) -> list[str]:
    return [str(x) for x in (_sc(c).get("capabilities") or {}).get("add") or []]


def capabilities_baseline(pod: Pod) -> str | None:
    bad = [c["name"] for c in _containers(pod) if set(_caps_added(c)) - BASELINE_CAPS]
    caps = sorted({x for c in _containers(pod) for x in _caps_added(c)} - BASELINE_CAPS)
    if not bad:
        return None
    return (
        f"non-default capabilities ({_who(bad)} must not include {_quote(caps)} "
        "in securityContext.capabilities.add)"
    )


def host_namespaces(pod: Pod) -> str | None:
    spec = pod.get("spec") or {}
    on = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return f"host namespaces ({', '.join(on)})" if on else None


def host_path_volumes(pod: Pod) -> str | None:
    names = [v["name"] for v in (pod.get("spec") or {}).get("volumes") or [] if "hostPath" in v]
    if not names:
        return None
    noun = "volume" if len(names) == 1 else "volumes"
    return f"hostPath volumes ({noun} {_quote(names)})"


def host_ports(pod: Pod) -> str | None:
    parts = []
    for c in _containers(pod):
        ports = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            noun = "hostPort" if len(ports) == 1 else "hostPorts"
            parts.append(f'container "{c["name"]}" uses {noun} {", ".join(ports)}')
    return f"hostPort ({'; '.join(parts)})" if parts else None


def privileged(pod: Pod) -> str | None:
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("privileged")]
    return f"privileged ({_who(bad)} must not set securityContext.privileged=true)" if bad else None


def allow_privilege_escalation(pod: Pod) -> str | None:
    bad = [
        c["name"] for c in _containers(pod) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return (
        f"allowPrivilegeEscalation != false ({_who(bad)} must set "
        "securityContext.allowPrivilegeEscalation=false)"
    )


def capabilities_restricted(pod: Pod) -> str | None:
    no_drop, adds, added = [], [], set()
    for c in _containers(pod):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            no_drop.append(c["name"])
        extra = [x for x in _caps_added(c) if x != "NET_BIND_SERVICE"]
        if extra:
            adds.append(c["name"])
            added.update(extra)
    parts = []
    if no_drop:
        parts.append(f'{_who(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adds:
        parts.append(
            f"{_who(adds)} must not include {_quote(sorted(added))} "
            "in securityContext.capabilities.add"
        )
    return f"unrestricted capabilities ({'; '.join(parts)})" if parts else None


def restricted_volumes(pod: Pod) -> str | None:
    allowed = {
        "name",
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
    bad = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        for kind in set(v) - allowed:
            bad.append(f'volume "{v["name"]}" uses restricted volume type "{kind}"')
    return f"restricted volume types ({'; '.join(bad)})" if bad else None


def _pod_or_container(pod: Pod, key: str, ok: Callable[[Any], bool], what: str) -> str | None:
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    pod_ok = ok(psc.get(key))
    bad = [
        c["name"]
        for c in _containers(pod)
        if not ok(_sc(c).get(key)) and not (pod_ok and _sc(c).get(key) is None)
    ]
    if not bad:
        return None
    if pod_ok:
        return f"{_who(bad)} must set {what}"
    return f"pod or {_who(bad)} must set {what}"


def run_as_non_root(pod: Pod) -> str | None:
    detail = _pod_or_container(
        pod, "runAsNonRoot", lambda v: v is True, "securityContext.runAsNonRoot=true"
    )
    return f"runAsNonRoot != true ({detail})" if detail else None


def run_as_user(pod: Pod) -> str | None:
    parts = []
    if ((pod.get("spec") or {}).get("securityContext") or {}).get("runAsUser") == 0:
        parts.append("pod must not set runAsUser=0")
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("runAsUser") == 0]
    if bad:
        parts.append(f"{_who(bad)} must not set runAsUser=0")
    return f"runAsUser=0 ({'; '.join(parts)})" if parts else None


def seccomp_restricted(pod: Pod) -> str | None:
    def ok(profile: Any) -> bool:
        return isinstance(profile, dict) and profile.get("type") in ("RuntimeDefault", "Localhost")

    detail = _pod_or_container(
        pod,
        "seccompProfile",
        ok,
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
    )
    return f"seccompProfile ({detail})" if detail else None


BASELINE: tuple[Check, ...] = (
    capabilities_baseline,
    host_namespaces,
    host_path_volumes,
    host_ports,
    privileged,
)
RESTRICTED: tuple[Check, ...] = (
    allow_privilege_escalation,
    capabilities_restricted,
    restricted_volumes,
    run_as_non_root,
    run_as_user,
    seccomp_restricted,
)


def violations(pod: Pod, level: str) -> list[str]:
    if level == "baseline":
        checks = BASELINE
    elif level == "restricted":
        checks = tuple(c for c in BASELINE if c is not capabilities_baseline) + RESTRICTED
    else:
        return []
    return [text for check in checks if (text := check(pod))]


def enforce(pod: Pod, namespace: dict[str, Any] | None) -> None:
    """Raise the 403 a PodSecurity-enforcing namespace gives for `pod`, if any."""
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get("pod-security.kubernetes.io/enforce", "privileged")
    if level not in LEVELS:
        return
    found = violations(pod, level)
    if found:
        version = labels.get("pod-security.kubernetes.io/enforce-version", "latest")
        name = str((pod.get("metadata") or {}).get("name", ""))
        why = f'violates PodSecurity "{level}:{version}": ' + ", ".join(found)
        raise forbidden("pods", name, why)


__all__ = ["ApiError", "enforce", "violations"]
