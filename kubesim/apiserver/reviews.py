"""Self reviews: SelfSubjectAccessReview (the caller asks RBAC about itself, answered by the
same evaluator), SelfSubjectRulesReview (`kubectl auth can-i --list`: every rule the caller
has in a namespace) and SelfSubjectReview (`kubectl auth whoami`: the caller's user info)."""

from __future__ import annotations

from aiohttp import web

from kubesim.apiserver.auth import User
from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.rbac import Attributes, Rule, aggregate
from kubesim.status import bad_request


async def handle(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.body()
    spec = body.get("spec") or {}
    res, nonres = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if res:
        attrs = Attributes(
            str(res.get("verb", "")),
            str(res.get("group", "")),
            str(res.get("resource", "")),
            str(res.get("subresource", "")),
            str(res.get("namespace", "")),
            str(res.get("name", "")),
        )
    elif nonres:
        attrs = Attributes(str(nonres.get("verb", "")), path=str(nonres.get("path", "")))
    else:
        raise bad_request("spec.resourceAttributes or spec.nonResourceAttributes is required")
    allowed, reason = ctx.cluster.rbac.authorize(ctx.user, attrs)
    status: dict[str, object] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    body.update(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview", status=status)
    body.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    return ok(body, 201)


# The Node authorizer's RulesFor for a kubelet's identity (plugin/pkg/auth/authorizer/node/
# node_authorizer.go); kubesim's authorizers are a kubeadm cluster's, Node then RBAC.
NODE_RULES = "node authorizer does not support user rule resolution"


def _is_node(user: User) -> bool:
    """nodeidentifier's NodeIdentity: `system:node:<name>` in the group system:nodes."""
    return user.name.startswith("system:node:") and "system:nodes" in user.groups


def _resource_rule(rule: Rule) -> dict[str, object]:
    out: dict[str, object] = {"verbs": list(rule.get("verbs") or [])}
    for key in ("apiGroups", "resources", "resourceNames"):
        if rule.get(key):
            out[key] = list(rule[key])
    return out


async def rules(ctx: Ctx) -> web.StreamResponse:
    """The union of the authorizers' RulesFor (pkg/registry/authorization/
    selfsubjectrulesreview/rest.go): `incomplete` when one of them cannot list its rules,
    `evaluationError` the aggregate of every error met (a binding to a missing role, say)."""
    body = await ctx.body()
    namespace = str((body.get("spec") or {}).get("namespace") or "")
    if not namespace:
        raise bad_request("no namespace on request")
    found, errors = ctx.cluster.rbac.rules_for(ctx.user, namespace)
    incomplete = _is_node(ctx.user)
    if incomplete:
        errors.insert(0, NODE_RULES)
    status: dict[str, object] = {
        "resourceRules": [_resource_rule(r) for r in found if r.get("resources")],
        "nonResourceRules": [
            {"verbs": list(r.get("verbs") or []), "nonResourceURLs": list(r["nonResourceURLs"])}
            for r in found
            if r.get("nonResourceURLs")
        ],
        "incomplete": incomplete,
    }
    if errors:
        status["evaluationError"] = aggregate(errors)
    # The registry answers a new object: the spec it was asked about is not echoed.
    review = {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": status,
    }
    return ok(review, 201)


async def whoami(ctx: Ctx) -> web.StreamResponse:
    """The user info the request runs as: after impersonation, the impersonated one."""
    body = await ctx.body()
    user = ctx.user
    info: dict[str, object] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {key: list(values) for key, values in user.extra}
    body.update(
        apiVersion="authentication.k8s.io/v1",
        kind="SelfSubjectReview",
        status={"userInfo": info},
    )
    body.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    return ok(body, 201)
