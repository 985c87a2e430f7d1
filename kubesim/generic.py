"""CRUD for the simple kinds: namespaces, serviceaccounts, events, RBAC objects and Leases.

Updates honour `metadata.resourceVersion` (a stale one is the apiserver's 409 Conflict), which is
what leader election on Leases relies on.
"""

from __future__ import annotations

import copy

from aiohttp import web

from kubesim import discovery, watch
from kubesim.context import Ctx, ok
from kubesim.patches import apply_patch
from kubesim.pods import list_response, selector, single
from kubesim.status import ApiError, Cause, already_exists, bad_request, invalid, not_found, success
from kubesim.store import Obj
from kubesim.validation import required

MISSING_RV = Cause(
    "FieldValueInvalid",
    "Invalid value: 0x0: must be specified for an update",
    "metadata.resourceVersion",
)


def _qualified(ctx: Ctx) -> str:
    return f"{ctx.info.resource}.{ctx.info.group}" if ctx.info.group else ctx.info.resource


def _get(ctx: Ctx) -> Obj:
    obj = ctx.cluster.store.get(ctx.info.resource, _ns(ctx), ctx.info.name)
    if obj is None:
        raise not_found(ctx.info.resource, ctx.info.name, ctx.info.group)
    return obj


def _ns(ctx: Ctx) -> str:
    return "" if ctx.info.resource == "namespaces" else ctx.info.namespace


def conflict(ctx: Ctx) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {_qualified(ctx)} "{ctx.info.name}": '
        "the object has been modified; please apply your changes to the latest "
        "version and try again",
        "Conflict",
        {"name": ctx.info.name, "group": ctx.info.group, "kind": ctx.info.resource},
    )


async def handle(ctx: Ctx) -> web.StreamResponse:
    info, store = ctx.info, ctx.cluster.store
    res = discovery.find(info.group, info.resource)
    assert res is not None
    api_version = f"{info.group}/{info.version}" if info.group else info.version
    if info.verb == "list":
        return list_response(ctx, info.resource, res.kind, api_version)
    if info.verb == "watch":
        return await watch.stream(ctx, info.resource, selector(ctx))
    if info.verb == "get":
        return single(ctx, _get(ctx), info.resource)
    if info.verb == "create":
        body = await ctx.body()
        if body.get("kind", res.kind) != res.kind:
            raise bad_request(
                f"the object provided is unrecognized (must be of type {res.kind}): {body.get('kind')}"  # noqa: E501
            )
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise invalid(res.kind, "", [required("metadata.name")], info.group)
        if info.resource == "namespaces":
            if store.get("namespaces", "", name):
                raise already_exists("namespaces", name)
            created = ctx.cluster.ensure_namespace(name, (body.get("metadata") or {}).get("labels"))
            return ok(created, 201)
        if store.get(info.resource, info.namespace, name):
            raise already_exists(_qualified(ctx), name)
        body.update(apiVersion=api_version, kind=res.kind)
        for key in ("uid", "resourceVersion", "creationTimestamp"):
            body["metadata"].pop(key, None)
        return ok(store.create(info.resource, info.namespace, body), 201)
    old = _get(ctx)
    if info.verb == "delete":
        store.delete(info.resource, _ns(ctx), info.name)
        return ok(success())
    if info.verb == "patch":
        new = apply_patch(copy.deepcopy(old), ctx.request.content_type, await ctx.request.read())
    else:
        new = await ctx.body()
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if not rv:
            raise invalid(res.kind, info.name, [MISSING_RV], info.group)
        if rv != old["metadata"]["resourceVersion"]:
            raise conflict(ctx)
    new.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "name", "namespace"):
        if key in old["metadata"]:
            new["metadata"][key] = old["metadata"][key]
    new.update(apiVersion=api_version, kind=res.kind)
    return ok(store.update(info.resource, _ns(ctx), new))
