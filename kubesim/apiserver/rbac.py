"""RBAC: evaluate Role/ClusterRole/RoleBinding/ClusterRoleBinding objects for a caller.

The same `authorize` answers real requests (403 with the apiserver's message) and
SelfSubjectAccessReviews, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.apiserver.auth import User
from kubesim.store import Store

# What every authenticated user may do (system:discovery, system:basic-user on a real cluster).
PUBLIC_PATHS = ("/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz")
SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews")
# system:basic-user also lets everyone ask who they are (authentication.k8s.io, since 1.28).
WHOAMI = "selfsubjectreviews"


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # for non-resource requests

    @property
    def qualified(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _subject_matches(subject: dict[str, Any], user: User, binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"system:serviceaccount:{ns}:{subject.get('name')}"
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    return False


def _rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if attrs.path:
        urls = rule.get("nonResourceURLs") or []
        return any(
            u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1])) for u in urls
        )
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    resources = rule.get("resources") or []
    wanted = attrs.qualified
    star_sub = f"{attrs.resource}/*" if attrs.subresource else ""
    if not any(r in ("*", wanted) or (star_sub and r == star_sub) for r in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _describe_subject(subject: dict[str, Any], binding_ns: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or binding_ns}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


class Rbac:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        if ref.get("kind") == "ClusterRole":
            role = self.store.get("clusterroles", "", str(ref.get("name")))
        else:
            role = self.store.get("roles", namespace, str(ref.get("name")))
        return list((role or {}).get("rules") or [])

    def authorize(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason): reason says which binding allowed it, as the RBAC authorizer does."""
        if user.is_master:
            return True, ""
        if attrs.path and attrs.verb == "get" and attrs.path.startswith(PUBLIC_PATHS):
            return True, 'RBAC: allowed by ClusterRoleBinding "system:discovery"'
        self_review = attrs.group == "authorization.k8s.io" and attrs.resource in SELF_REVIEWS
        whoami = attrs.group == "authentication.k8s.io" and attrs.resource == WHOAMI
        if (self_review or whoami) and attrs.verb == "create":
            return True, 'RBAC: allowed by ClusterRoleBinding "system:basic-user"'
        for binding in self.store.items("clusterrolebindings"):
            if self._grants(binding, "", user, attrs):
                return True, self._reason(binding, user, "ClusterRoleBinding")
        if attrs.namespace:
            for binding in self.store.items("rolebindings", attrs.namespace):
                if self._grants(binding, attrs.namespace, user, attrs):
                    return True, self._reason(binding, user, "RoleBinding")
        return False, ""

    def _grants(self, binding: dict[str, Any], ns: str, user: User, attrs: Attributes) -> bool:
        if not any(_subject_matches(s, user, ns) for s in binding.get("subjects") or []):
            return False
        rules = self._role_rules(binding.get("roleRef") or {}, ns)
        return any(_rule_allows(rule, attrs) for rule in rules)

    def _reason(self, binding: dict[str, Any], user: User, kind: str) -> str:
        meta = binding["metadata"]
        ns = meta.get("namespace", "")
        where = f'{kind} "{meta["name"]}/{ns}"' if ns else f'{kind} "{meta["name"]}"'
        ref = binding.get("roleRef") or {}
        subject = next(s for s in binding.get("subjects") or [] if _subject_matches(s, user, ns))
        return (
            f'RBAC: allowed by {where} of {ref.get("kind")} "{ref.get("name")}" '
            f"to {_describe_subject(subject, ns)}"
        )


def denial_message(user: User, attrs: Attributes) -> str:
    """The 403 text after `<resource> "<name>" is forbidden: `."""
    if attrs.path:
        return f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (
        f'User "{user.name}" cannot {attrs.verb} resource "{attrs.qualified}" '
        f'in API group "{attrs.group}" {where}'
    )
