"""RBAC: evaluate Role/ClusterRole/RoleBinding/ClusterRoleBinding objects for a caller.

One walk over the caller's rules (the rule resolver's VisitRulesFor, pkg/registry/rbac/
validation/rule.go) answers real requests (403 with the apiserver's message),
SelfSubjectAccessReviews and SelfSubjectRulesReviews, so they can never disagree. The
bootstrap bindings every cluster has (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/
policy.go and controller_policy.go) are evaluated as if stored, but not listed as objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubesim.apiserver.auth import User
from kubesim.store import Store

Rule = dict[str, Any]
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
# The bootstrap ClusterRoleBindings (name = ClusterRole name) kubesim's callers rely on:
# (name, subject groups, rules).
BOOTSTRAP: tuple[tuple[str, tuple[str, ...], tuple[Rule, ...]], ...] = (
    (
        "cluster-admin",
        ("system:masters",),
        (
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ),
    ),
    (
        "system:basic-user",
        (AUTHENTICATED,),
        (
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                "verbs": ["create"],
            },
            # `kubectl auth whoami` (authentication.k8s.io, since 1.28).
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["selfsubjectreviews"],
                "verbs": ["create"],
            },
        ),
    ),
    (
        "system:discovery",
        (AUTHENTICATED,),
        (
            {
                "nonResourceURLs": [
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
                "verbs": ["get"],
            },
        ),
    ),
    (
        "system:public-info-viewer",
        (AUTHENTICATED, UNAUTHENTICATED),
        (
            {
                "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                "verbs": ["get"],
            },
        ),
    ),
    (
        "system:service-account-issuer-discovery",
        ("system:serviceaccounts",),
        (
            {
                "nonResourceURLs": [
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ],
                "verbs": ["get"],
            },
        ),
    ),
)


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


@dataclass(frozen=True)
class Visit:
    """One step of the walk: a rule and where it came from, or a role that cannot be read."""

    source: str
    rule: Rule | None = None
    error: str = ""


def _subject_matches(subject: dict[str, Any], user: User, binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return bool(ns) and user.name == f"system:serviceaccount:{ns}:{subject.get('name')}"
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    return False


def rule_allows(rule: Rule, attrs: Attributes) -> bool:
    """rbac.RuleAllows: verb, then group, resource (`*/sub` matches a subresource of any
    resource) and name, or the non-resource URL (`/x/*` matches by prefix)."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if attrs.path:
        urls = rule.get("nonResourceURLs") or []
        return any(
            u in ("*", attrs.path) or (u.endswith("*") and attrs.path.startswith(u.rstrip("*")))
            for u in urls
        )
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    resources = rule.get("resources") or []
    sub = f"*/{attrs.subresource}" if attrs.subresource else ""
    if not any(r in ("*", attrs.qualified) or (sub and r == sub) for r in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _describe_subject(subject: dict[str, Any], binding_ns: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or binding_ns}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several as `[a, b]`, repeats
    dropped."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class Rbac:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> tuple[list[Rule], str]:
        """A role reference's rules, or the lister's NotFound text when it is missing."""
        kind, name = ref.get("kind"), str(ref.get("name"))
        if kind == "ClusterRole":
            role = self.store.get("clusterroles", "", name)
            missing = f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif kind == "Role":
            role = self.store.get("roles", namespace, name)
            missing = f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            return [], f'unsupported role reference kind: "{kind}"'
        if role is None:
            return [], missing
        return list(role.get("rules") or []), ""

    def visit(self, user: User, namespace: str) -> Iterator[Visit]:
        """Every rule that applies to `user` in `namespace` (cluster-wide ones first), as
        VisitRulesFor walks them."""
        for name, groups, rules in BOOTSTRAP:
            group = next((g for g in groups if g in user.groups), None)
            if group is not None:
                source = f'ClusterRoleBinding "{name}" of ClusterRole "{name}" to Group "{group}"'
                for rule in rules:
                    yield Visit(source, rule)
        bindings = [("", b) for b in self.store.items("clusterrolebindings")]
        if namespace:
            bindings += [(namespace, b) for b in self.store.items("rolebindings", namespace)]
        for ns, binding in bindings:
            subject = next(
                (s for s in binding.get("subjects") or [] if _subject_matches(s, user, ns)), None
            )
            if subject is None:
                continue
            meta, ref = binding["metadata"], binding.get("roleRef") or {}
            kind = "RoleBinding" if ns else "ClusterRoleBinding"
            where = f'{kind} "{meta["name"]}/{ns}"' if ns else f'{kind} "{meta["name"]}"'
            source = (
                f'{where} of {ref.get("kind")} "{ref.get("name")}" '
                f"to {_describe_subject(subject, ns)}"
            )
            role_rules, error = self._role_rules(ref, ns)
            if error:
                yield Visit(source, error=error)
            for rule in role_rules:
                yield Visit(source, rule)

    def authorize(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason), as the authorizer chain answers: system:masters first (the
        superuser authorizer, no reason), then RBAC, whose reason names the binding that
        allowed, or on a denial the roles it could not read."""
        if user.is_master:
            return True, ""
        errors = []
        for step in self.visit(user, attrs.namespace):
            if step.rule is not None and rule_allows(step.rule, attrs):
                return True, f"RBAC: allowed by {step.source}"
            if step.error:
                errors.append(step.error)
        return False, f"RBAC: {aggregate(errors)}" if errors else ""

    def rules_for(self, user: User, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule `user` has in `namespace`, and the errors met finding them."""
        rules, errors = [], []
        for step in self.visit(user, namespace):
            if step.rule is not None:
                rules.append(step.rule)
            if step.error:
                errors.append(step.error)
        return rules, errors


def denial_message(user: User, attrs: Attributes, reason: str = "") -> str:
    """The 403 text after `<resource> "<name>" is forbidden: ` (responsewriters'
    forbiddenMessage, then `: <reason>` when the authorizer gave one)."""
    if attrs.path:
        text = f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        where = (
            f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        )
        text = (
            f'User "{user.name}" cannot {attrs.verb} resource "{attrs.qualified}" '
            f'in API group "{attrs.group}" {where}'
        )
    return f"{text}: {reason}" if reason else text
