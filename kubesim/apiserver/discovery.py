"""Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/G/V`, legacy and aggregated.

kubectl asks for aggregated discovery (apidiscovery.k8s.io/v2) first and falls back to the legacy
documents when the server answers plain JSON; both are served from one resource table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.node import architecture

RW = ("create", "delete", "get", "list", "patch", "update", "watch")
NODE_VERBS = ("get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    name: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short: tuple[str, ...] = ()
    subresources: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def categories(self) -> list[str]:
        """`kubectl get all` lists the kinds in category `all` (of those served here)."""
        return ["all"] if self.name in ("pods", "services", "deployments", "replicasets") else []


RESOURCES = (
    Resource("", "v1", "namespaces", "Namespace", False, RW, ("ns",)),
    Resource(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        (*RW, "deletecollection"),
        ("po",),
        (
            ("attach", "PodAttachOptions", ("create", "get")),
            ("ephemeralcontainers", "Pod", ("get", "patch", "update")),
            ("exec", "PodExecOptions", ("create", "get")),
            ("log", "Pod", ("get",)),
            ("status", "Pod", ("get", "patch", "update")),
        ),
    ),
    # The kubelet's Events (kubesim/kubelet/events.py), read by `kubectl describe`.
    Resource("", "v1", "events", "Event", True, RW, ("ev",)),
    # The one node (kubesim/node.py): read, and labels or spec.unschedulable changed.
    Resource("", "v1", "nodes", "Node", False, NODE_VERBS, ("no",)),
    # What `kubectl apply -k deploy/overlays/...` writes; stored as given
    # (kubesim.apiserver.generic), and Deployments get pods from kubesim.controllers.deployments.
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, RW, ("sa",)),
    Resource("", "v1", "configmaps", "ConfigMap", True, RW, ("cm",)),
    Resource("", "v1", "secrets", "Secret", True, RW),
    Resource("", "v1", "services", "Service", True, RW, ("svc",)),
    Resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        ("create",),
    ),
    # `kubectl auth can-i --list`: every rule the caller has in a namespace.
    Resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        ("create",),
    ),
    # `kubectl auth whoami`: who the server thinks the caller is (after impersonation).
    Resource(
        "authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, ("create",)
    ),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True, RW),
    Resource("apps", "v1", "deployments", "Deployment", True, RW, ("deploy",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, RW, ("rs",)),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True, RW),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, RW),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, RW),
    Resource(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, RW
    ),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, RW, ("pdb",)),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, RW, ("netpol",)),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True, RW, ("ing",)),
    # metrics-server's API (`kubectl top pod`), served from the kubelet's cgroups
    # (kubesim/kubelet/metrics.py).
    Resource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True, ("get", "list")),
)
GROUPS = (
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "coordination.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "metrics.k8s.io",
)
AGGREGATED = "apidiscovery.k8s.io"


def find(group: str, name: str) -> Resource | None:
    return next((r for r in RESOURCES if r.group == group and r.name == name), None)


def version_info(version: str) -> dict[str, str]:
    major, minor = version.split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{major}.{minor}.0-kubesim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": f"linux/{architecture()}",
    }


def _legacy_resource(r: Resource, ephemeral: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "name": r.name,
            "singularName": r.kind.lower(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
            "shortNames": list(r.short),
            "categories": r.categories,
        }
    ]
    for sub, kind, verbs in r.subresources:
        if sub == "ephemeralcontainers" and not ephemeral:
            continue
        out.append(
            {
                "name": f"{r.name}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
        )
    return out


def resource_list(group: str, version: str, ephemeral: bool) -> dict[str, Any] | None:
    chosen = [r for r in RESOURCES if r.group == group and r.version == version]
    if not chosen:
        return None
    gv = f"{group}/{version}" if group else version
    resources = [item for r in chosen for item in _legacy_resource(r, ephemeral)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def core_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def group_version(name: str) -> str:
    """The one version each group is served at (v1, or v1beta1 for metrics.k8s.io)."""
    return next((r.version for r in RESOURCES if r.group == name), "v1")


def group_list() -> dict[str, Any]:
    groups = []
    for name in GROUPS:
        version = group_version(name)
        gv = {"groupVersion": f"{name}/{version}", "version": version}
        groups.append({"name": name, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(name: str) -> dict[str, Any] | None:
    if name not in GROUPS:
        return None
    version = group_version(name)
    gv = {"groupVersion": f"{name}/{version}", "version": version}
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": [gv],
        "preferredVersion": gv,
    }


def _aggregated_group(name: str, ephemeral: bool) -> dict[str, Any]:
    resources = []
    for r in (r for r in RESOURCES if r.group == name):
        subs = [
            {
                "subresource": sub,
                "verbs": list(verbs),
                "responseKind": {"group": "", "version": "v1", "kind": kind},
            }
            for sub, kind, verbs in r.subresources
            if ephemeral or sub != "ephemeralcontainers"
        ]
        resources.append(
            {
                "resource": r.name,
                "singularResource": r.kind.lower(),
                "scope": "Namespaced" if r.namespaced else "Cluster",
                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                "verbs": list(r.verbs),
                "shortNames": list(r.short),
                "categories": r.categories,
                "subresources": subs,
            }
        )
    version = group_version(name) if name else "v1"
    return {
        "metadata": {"name": name},
        "versions": [{"version": version, "resources": resources, "freshness": "Current"}],
    }


def aggregated(core: bool, ephemeral: bool) -> dict[str, Any]:
    names = [""] if core else list(GROUPS)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{AGGREGATED}/v2",
        "metadata": {},
        "items": [_aggregated_group(n, ephemeral) for n in names],
    }


def wants_aggregated(accept: str) -> str | None:
    """The aggregated discovery version the Accept header asks for first, if any."""
    for part in accept.split(","):
        if f"g={AGGREGATED}" in part and "as=APIGroupDiscoveryList" in part:
            return "v2beta1" if "v=v2beta1" in part else "v2"
    return None
