"""Self reviews: SelfSubjectAccessReview (the caller asks RBAC about itself, answered by the
same evaluator) and SelfSubjectReview (`kubectl auth whoami`: the caller's user info)."""

from __future__ import annotations

from aiohttp import web

from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.rbac import Attributes
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
