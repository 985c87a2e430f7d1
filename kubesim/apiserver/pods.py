"""Pod handlers: list (label/field selectors, Table), get, watch, create, delete, metadata patches.

Create and delete go through `Cluster`, which runs validation, PodSecurity and the kubelet.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from kubesim.admission import fieldvalidation
from kubesim.apiserver import watch, writes
from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.selectors import field_matches, label_matches
from kubesim.apiserver.tables import table, wants_table
from kubesim.controllers import namespaces
from kubesim.status import Cause, bad_request, invalid, not_found
from kubesim.store import Obj

POD_IMMUTABLE = (
    "spec: Forbidden: pod updates may not change fields other than "
    "`spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
    "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 "
    "if it was previously negative)"
)


def selector(ctx: Ctx) -> Any:
    labels = ctx.query.get("labelSelector", "")
    fields = ctx.query.get("fieldSelector", "")

    def matches(obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if labels and not label_matches(labels, meta.get("labels") or {}):
            return False
        return not fields or field_matches(fields, obj)

    return matches


def list_response(ctx: Ctx, resource: str, kind: str, api_version: str) -> web.Response:
    matches = selector(ctx)
    items = [o for o in ctx.cluster.store.items(resource, ctx.info.namespace or None) if matches(o)]
    rv = str(ctx.cluster.store.revision)
    if wants_table(ctx.request.headers.get("Accept", "")):
        return ok(table(resource, items, rv))
    return ok(
        {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }
    )


def get_pod(ctx: Ctx) -> Obj:
    pod = ctx.cluster.store.get("pods", ctx.info.namespace, ctx.info.name)
    if pod is None:
        raise not_found("pods", ctx.info.name)
    return pod


def single(ctx: Ctx, obj: Obj, resource: str, status: int = 200) -> web.Response:
    if wants_table(ctx.request.headers.get("Accept", "")):
        return ok(table(resource, [obj], obj["metadata"].get("resourceVersion", "")), status)
    return ok(obj, status)


async def status(ctx: Ctx) -> web.StreamResponse:
    """`pods/status`: GET the pod; PUT and PATCH change its status only, as the pod status
    strategy does (pkg/registry/core/pod/strategy.go, podStatusStrategy.PrepareForUpdate:
    spec and ownerReferences stay the stored ones). The kubelet writes the same object."""
    if ctx.info.verb == "get":
        return ok(get_pod(ctx))
    old, new, warnings = await writes.incoming(ctx, lambda: get_pod(ctx), "", "v1", "Pod")
    writes.precondition(new, old, "pods", ctx.info.name)
    if not isinstance(new.get("status"), dict):
        raise bad_request("status: Required value")
    merged = copy.deepcopy(old)
    merged["status"] = new["status"]
    for key in ("labels", "annotations"):
        value = (new.get("metadata") or {}).get(key)
        if value is None:
            merged["metadata"].pop(key, None)
        else:
            merged["metadata"][key] = value
    return writes.answer(ctx.cluster.store.update("pods", ctx.info.namespace, merged), warnings)


def _checked_update(ctx: Ctx, old: Obj, new: Obj) -> Obj:
    """Pods only let metadata (labels, annotations...) change through PUT/PATCH here."""
    if new.get("spec") != old.get("spec"):
        raise invalid(
            "Pod",
            ctx.info.name,
            [Cause("FieldValueForbidden", POD_IMMUTABLE.split(": ", 1)[1], "spec")],
        )
    writes.precondition(new, old, "pods", ctx.info.name)
    merged = copy.deepcopy(old)
    for key in ("labels", "annotations", "ownerReferences", "finalizers"):
        value = (new.get("metadata") or {}).get(key)
        if value is None:
            merged["metadata"].pop(key, None)
        else:
            merged["metadata"][key] = value
    return ctx.cluster.store.update("pods", ctx.info.namespace, merged)


async def handle(ctx: Ctx) -> web.StreamResponse:
    verb, cluster = ctx.info.verb, ctx.cluster
    if verb == "list":
        return list_response(ctx, "pods", "Pod", "v1")
    if verb == "watch":
        return await watch.stream(ctx, "pods", selector(ctx))
    if verb == "get":
        return single(ctx, get_pod(ctx), "pods")
    if verb == "create":
        body = await ctx.body()
        if body.get("kind", "Pod") != "Pod":
            raise bad_request(
                f"the object provided is unrecognized (must be of type Pod): {body.get('kind')}"
            )
        namespace = ctx.info.namespace or "default"
        name = str((body.get("metadata") or {}).get("name") or "")
        version = cluster.config.version
        warnings = fieldvalidation.check_body(ctx.query, body, "", "v1", "Pod", version)
        namespaces.admit(cluster, namespace, "pods", name)
        return writes.answer(await cluster.create_pod(body, namespace), warnings, 201)
    if verb == "delete":
        grace = ctx.query.get("gracePeriodSeconds")
        raw = await ctx.raw_body()
        if raw:
            options = await ctx.body()
            grace = options.get("gracePeriodSeconds", grace)
        deleted = await cluster.delete_pod(
            ctx.info.namespace, ctx.info.name, None if grace is None else float(grace)
        )
        return ok(deleted)
    if verb == "deletecollection":
        matches = selector(ctx)
        gone = [p for p in list(cluster.store.items("pods", ctx.info.namespace)) if matches(p)]
        for pod in gone:
            await cluster.delete_pod(pod["metadata"]["namespace"], pod["metadata"]["name"])
        return ok({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": gone})
    # Updates and patches are field-validated like every other kind's (generic.py); the
    # unknown fields are dropped before the spec is compared, as decoding drops them upstream.
    old, new, warnings = await writes.incoming(ctx, lambda: get_pod(ctx), "", "v1", "Pod")
    return writes.answer(_checked_update(ctx, old, new), warnings)
