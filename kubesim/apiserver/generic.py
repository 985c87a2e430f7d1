"""CRUD for every kind but pods: namespaces, RBAC, ConfigMaps, Secrets, Deployments, Leases...

Updates honour `metadata.resourceVersion` (a stale one is the apiserver's 409 Conflict), which is
what leader election on Leases relies on.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from kubesim import deletion, requestnotes
from kubesim.admission import fieldvalidation, podsecurity
from kubesim.admission.defaults import apps_defaults
from kubesim.admission.validation import required
from kubesim.apiserver import discovery, schemas, watch, writes
from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.pods import list_response, selector, single
from kubesim.controllers import namespaces
from kubesim.kubelet.environment import stored_secret
from kubesim.status import ApiError, Cause, already_exists, bad_request, invalid, not_found, success
from kubesim.store import Obj, now_iso

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


def _stored(ctx: Ctx, body: Obj, old: Obj | None) -> Obj:
    """What the registry keeps: system fields its own, a Secret's stringData folded into data,
    status untouched by writes to the main resource, generation bumped on spec changes (the
    strategies' PrepareForCreate/PrepareForUpdate)."""
    info = ctx.info
    res = discovery.find(info.group, info.resource)
    assert res is not None
    body.update(apiVersion=f"{info.group}/{info.version}" if info.group else info.version)
    body["kind"] = res.kind
    meta = body.setdefault("metadata", {})
    for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation"):
        meta.pop(key, None)
    if res.kind == "Secret":
        body = stored_secret(body)
    body = apps_defaults(res.kind, body)
    meta = body["metadata"]
    if old is None:
        if "spec" in body:
            meta["generation"] = 1
        return body
    for key in ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp"):
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
    if "generation" in old["metadata"]:
        changed = body.get("spec") != old.get("spec")
        meta["generation"] = int(old["metadata"]["generation"]) + int(changed)
    if "status" in old:
        body["status"] = old["status"]
    return body


def _dry_run(ctx: Ctx) -> bool:
    """`?dryRun=All`: everything but storing (the apiserver's only value)."""
    values = ctx.query.getall("dryRun", [])
    wrong = [v for v in values if v != "All"]
    if wrong:
        options = {"create": "CreateOptions", "delete": "DeleteOptions", "patch": "PatchOptions"}
        kind = options.get(ctx.info.verb, "UpdateOptions")
        why = f'dryRun: Unsupported value: "{wrong[0]}": supported values: "All"'
        raise ApiError(422, f'{kind}.meta.k8s.io "" is invalid: {why}', "Invalid", {})
    return bool(values)


def _admit_update(ctx: Ctx, old: Obj, new: Obj) -> None:
    """PodSecurity on updates: a controller's template is warned about; a namespace whose
    enforce level is raised warns about the pods already in it (dry runs included, so
    `kubectl label --dry-run=server` previews them)."""
    store = ctx.cluster.store
    if ctx.info.resource == "namespaces":
        pods = list(store.items("pods", ctx.info.name))
        requestnotes.warn(*podsecurity.namespace_warnings(old, new, pods))
    elif podsecurity.template_pod(new) is not None:
        podsecurity.check_template(new, store.get("namespaces", "", ctx.info.namespace))


async def handle(ctx: Ctx) -> web.StreamResponse:
    info, store, cluster = ctx.info, ctx.cluster.store, ctx.cluster
    res = discovery.find(info.group, info.resource)
    assert res is not None
    api_version = f"{info.group}/{info.version}" if info.group else info.version
    version = cluster.config.version
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
        meta = body.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise invalid(res.kind, "", [required("metadata.name")], info.group)
        if res.namespaced and meta.get("namespace") not in (None, "", info.namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        warnings = fieldvalidation.check_body(
            ctx.query, body, info.group, info.version, res.kind, version
        )
        dry = _dry_run(ctx)
        if res.namespaced and podsecurity.template_pod(body) is not None:
            ns_obj = store.get("namespaces", "", info.namespace)
            podsecurity.check_template(body, ns_obj)
        if info.resource == "namespaces" and not dry:
            return writes.answer(namespaces.create(cluster, body), warnings, 201)
        if res.namespaced:
            namespaces.admit(cluster, info.namespace, info.resource, name, info.group)
        if store.get(info.resource, info.namespace, name):
            raise already_exists(_qualified(ctx), name)
        if dry:
            body = _stored(ctx, body, None)
            body["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now_iso())
            return writes.answer(body, warnings, 201)
        created = store.create(info.resource, info.namespace, _stored(ctx, body, None))
        return writes.answer(created, warnings, 201)
    if info.verb == "delete":
        old = _get(ctx)
        if info.resource == "namespaces":
            return ok(namespaces.delete(cluster, info.name, _dry_run(ctx)))
        options = await ctx.body() if await ctx.raw_body() else {}
        policy = deletion.propagation(options, ctx.query)
        if _dry_run(ctx):
            return ok(success(info.name, info.resource, old["metadata"]["uid"], info.group))
        # Kept while finalizers remain (the answer is then the object), else gone at once;
        # the garbage collector deletes, or orphans, what it owned.
        kept = deletion.delete(store, info.resource, _ns(ctx), info.name, policy)
        if kept is not None:
            return ok(kept)
        return ok(success(info.name, info.resource, old["metadata"]["uid"], info.group))
    schema, defs = None, None
    if info.verb == "patch":  # strategic merge follows this kind's own schema
        defs = schemas.definitions(version)
        found = defs.kind(info.group, info.version, res.kind)
        schema = found[1] if found else None
    old, new, warnings = await writes.incoming(
        ctx, lambda: _get(ctx), info.group, info.version, res.kind, schema, defs
    )
    if info.verb != "patch":
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if not rv:
            raise invalid(res.kind, info.name, [MISSING_RV], info.group)
    writes.precondition(new, old, info.resource, info.name, info.group)
    _admit_update(ctx, old, new)
    if _dry_run(ctx):
        would = _stored(ctx, new, old)
        would["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return writes.answer(would, warnings)
    # An update that takes the last finalizer off an object being deleted deletes it.
    saved = deletion.save(store, info.resource, _ns(ctx), _stored(ctx, new, old))
    return writes.answer(saved if saved is not None else old, warnings)
