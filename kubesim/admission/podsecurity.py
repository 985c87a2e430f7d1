"""PodSecurity admission (baseline and restricted) over the whole pod: the enforce level's 403,
the warn level's `Warning`, the audit level's annotations, and the warnings about existing pods
when a namespace's enforce level is raised, with the texts of staging/src/k8s.io/
pod-security-admission/admission/admission.go (EvaluatePod, ValidatePodController,
ValidateNamespace, EvaluatePodsInNamespace).

Checks run in the plugin's order: baseline checks, then restricted ones; at the restricted
level `capabilities_restricted` and `seccompProfile_restricted` replace their baseline twins.
Each failing check is a reason and its detail, which messages print as `<reason> (<detail>)`.
Every level is evaluated with the latest checks, whatever version a label names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubesim import requestnotes
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
LABEL = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
# admission/api/constants.go: audit annotations are prefixed with the label prefix.
ENFORCED_POLICY = LABEL + "enforce-policy"
AUDIT_VIOLATIONS = LABEL + "audit-violations"


@dataclass(frozen=True)
class Violation:
    """One failed check: the reason, and what in the pod fails it."""

    reason: str
    detail: str = ""

    @property
    def text(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


@dataclass(frozen=True)
class LevelVersion:
    level: str
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion

    @classmethod
    def of(cls, namespace: dict[str, Any] | None) -> Policy:
        """api.PolicyToEvaluate: each mode from its labels, privileged:latest when unset, and
        restricted:latest (the safe reading) when a level is not one of the three."""
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        modes = []
        for mode in MODES:
            level = labels.get(LABEL + mode, "privileged")
            version = labels.get(f"{LABEL}{mode}-version", "latest")
            if level not in LEVELS:
                level, version = "restricted", "latest"
            modes.append(LevelVersion(level, version))
        return cls(*modes)


Pod = dict[str, Any]
Check = Callable[[Pod], Violation | None]


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


def capabilities_baseline(pod: Pod) -> Violation | None:
    bad = [c["name"] for c in _containers(pod) if set(_caps_added(c)) - BASELINE_CAPS]
    caps = sorted({x for c in _containers(pod) for x in _caps_added(c)} - BASELINE_CAPS)
    if not bad:
        return None
    return Violation(
        "non-default capabilities",
        f"{_who(bad)} must not include {_quote(caps)} in securityContext.capabilities.add",
    )


def host_namespaces(pod: Pod) -> Violation | None:
    spec = pod.get("spec") or {}
    on = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return Violation("host namespaces", ", ".join(on)) if on else None


def host_path_volumes(pod: Pod) -> Violation | None:
    names = [v["name"] for v in (pod.get("spec") or {}).get("volumes") or [] if "hostPath" in v]
    if not names:
        return None
    noun = "volume" if len(names) == 1 else "volumes"
    return Violation("hostPath volumes", f"{noun} {_quote(names)}")


def host_ports(pod: Pod) -> Violation | None:
    parts = []
    for c in _containers(pod):
        ports = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            noun = "hostPort" if len(ports) == 1 else "hostPorts"
            parts.append(f'container "{c["name"]}" uses {noun} {", ".join(ports)}')
    return Violation("hostPort", "; ".join(parts)) if parts else None


def privileged(pod: Pod) -> Violation | None:
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("privileged")]
    if not bad:
        return None
    return Violation("privileged", f"{_who(bad)} must not set securityContext.privileged=true")


def allow_privilege_escalation(pod: Pod) -> Violation | None:
    bad = [
        c["name"] for c in _containers(pod) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{_who(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def capabilities_restricted(pod: Pod) -> Violation | None:
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
    return Violation("unrestricted capabilities", "; ".join(parts)) if parts else None


def restricted_volumes(pod: Pod) -> Violation | None:
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
    return Violation("restricted volume types", "; ".join(bad)) if bad else None


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


def run_as_non_root(pod: Pod) -> Violation | None:
    detail = _pod_or_container(
        pod, "runAsNonRoot", lambda v: v is True, "securityContext.runAsNonRoot=true"
    )
    return Violation("runAsNonRoot != true", detail) if detail else None


def run_as_user(pod: Pod) -> Violation | None:
    parts = []
    if ((pod.get("spec") or {}).get("securityContext") or {}).get("runAsUser") == 0:
        parts.append("pod must not set runAsUser=0")
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("runAsUser") == 0]
    if bad:
        parts.append(f"{_who(bad)} must not set runAsUser=0")
    return Violation("runAsUser=0", "; ".join(parts)) if parts else None


def seccomp_restricted(pod: Pod) -> Violation | None:
    def ok(profile: Any) -> bool:
        return isinstance(profile, dict) and profile.get("type") in ("RuntimeDefault", "Localhost")

    detail = _pod_or_container(
        pod,
        "seccompProfile",
        ok,
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
    )
    return Violation("seccompProfile", detail) if detail else None


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


def results(pod: Pod, level: str) -> list[Violation]:
    if level == "baseline":
        checks = BASELINE
    elif level == "restricted":
        checks = tuple(c for c in BASELINE if c is not capabilities_baseline) + RESTRICTED
    else:
        return []
    return [found for check in checks if (found := check(pod))]


def violations(pod: Pod, level: str) -> list[str]:
    """Each failed check as the messages print it."""
    return [v.text for v in results(pod, level)]


def forbidden_detail(found: list[Violation]) -> str:
    """AggregateCheckResult.ForbiddenDetail: every reason with its detail."""
    return ", ".join(v.text for v in found)


def evaluate(pod: Pod, namespace: dict[str, Any] | None, enforce: bool = True) -> None:
    """EvaluatePod: raise the enforce level's 403 (when `enforce`, i.e. for pods rather than
    their controllers); note the audit level's annotations and, for an allowed request, the
    warn level's warning (kubesim/requestnotes.py)."""
    policy = Policy.of(namespace)
    levels = (policy.enforce, policy.audit, policy.warn) if enforce else (policy.audit, policy.warn)
    if all(lv.level == "privileged" for lv in levels):
        return  # ValidatePod and ValidatePodController short-circuit here
    annotations = {ENFORCED_POLICY: str(policy.enforce)} if enforce else {}
    audit = results(pod, policy.audit.level)
    if audit:
        annotations[AUDIT_VIOLATIONS] = (
            f'would violate PodSecurity "{policy.audit}": {forbidden_detail(audit)}'
        )
    requestnotes.annotate(annotations)
    if enforce:
        found = results(pod, policy.enforce.level)
        if found:
            name = str((pod.get("metadata") or {}).get("name", ""))
            why = f'violates PodSecurity "{policy.enforce}": {forbidden_detail(found)}'
            raise forbidden("pods", name, why)
    warn = results(pod, policy.warn.level)
    if warn:
        requestnotes.warn(f'would violate PodSecurity "{policy.warn}": {forbidden_detail(warn)}')


def enforce(pod: Pod, namespace: dict[str, Any] | None) -> None:
    """A pod create or ephemeral-containers update: the 403, or its warning and annotations."""
    evaluate(pod, namespace, enforce=True)


def check_template(obj: dict[str, Any], namespace: dict[str, Any] | None) -> None:
    """ValidatePodController: a Deployment's or ReplicaSet's pod template is never refused,
    only warned and audited about."""
    pod = template_pod(obj)
    if pod is not None:
        evaluate(pod, namespace, enforce=False)


def template_pod(obj: dict[str, Any]) -> Pod | None:
    """The pod a controller (Deployment, ReplicaSet) would make: its template's metadata and
    spec (DefaultPodSpecExtractor)."""
    template = (obj.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return None
    return {"metadata": template.get("metadata") or {}, "spec": template.get("spec") or {}}


def namespace_warnings(old: dict[str, Any], new: dict[str, Any], pods: list[Pod]) -> list[str]:
    """ValidateNamespace on an update: when the enforce level is made stricter (or its version
    changes), the pods that would now be refused, grouped by identical reasons (one pod per
    controller first, as prioritizePods orders them)."""
    before, after = Policy.of(old).enforce, Policy.of(new).enforce
    if after == before or after.level == "privileged":
        return []
    if after.version == before.version and LEVELS.index(after.level) <= LEVELS.index(before.level):
        return []
    name = str((new.get("metadata") or {}).get("name") or old["metadata"]["name"])
    first: list[Pod] = []
    later: list[Pod] = []
    controllers: set[str] = set()
    for pod in pods:
        refs = pod["metadata"].get("ownerReferences") or []
        owner = next((r.get("uid") for r in refs if r.get("controller")), None)
        if owner is None or owner not in controllers:
            first.append(pod)
            if owner is not None:
                controllers.add(owner)
        else:
            later.append(pod)
    counts: dict[str, tuple[str, int]] = {}
    order: list[str] = []
    for pod in first + later:
        found = results(pod, after.level)
        if not found:
            continue
        reason = ", ".join(v.reason for v in found)  # ForbiddenReason: no details
        pod_name = str(pod["metadata"]["name"])
        if reason not in counts:
            order.append(reason)
            counts[reason] = (pod_name, 1)
        else:
            lowest, n = counts[reason]
            counts[reason] = (min(lowest, pod_name), n + 1)
    if not order:
        return []
    lines = []
    for reason in order:
        pod_name, n = counts[reason]
        if n == 1:
            lines.append(f"{pod_name}: {reason}")
        elif n == 2:
            lines.append(f"{pod_name} (and 1 other pod): {reason}")
        else:
            lines.append(f"{pod_name} (and {n - 1} other pods): {reason}")
    header = (
        f'existing pods in namespace "{name}" violate the new PodSecurity enforce level "{after}"'
    )
    return [header, *sorted(lines)]


__all__ = ["ApiError", "Policy", "check_template", "enforce", "namespace_warnings", "violations"]
