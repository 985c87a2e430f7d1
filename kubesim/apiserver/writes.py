"""What every PUT and PATCH shares: the incoming object, checked like the apiserver decodes
it, and an answer carrying the field-validation warnings.

The body is read before the stored object, and nothing awaits between reading that object
and the handler storing its successor: two writers at once must not both start from the same
old object (the apiserver's optimistic concurrency would make the second retry or conflict).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from aiohttp import web

from kubesim.admission import fieldvalidation
from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.patches import apply_patch
from kubesim.apiserver.schemas import Definitions, Schema
from kubesim.status import conflict
from kubesim.store import Obj


async def incoming(
    ctx: Ctx,
    current: Callable[[], Obj],
    group: str,
    version: str,
    kind: str,
    schema: Schema | None = None,
    defs: Definitions | None = None,
    vet: Callable[[Obj], None] | None = None,
) -> tuple[Obj, Obj, list[str]]:
    """(stored object, the object the request asks for, field-validation warnings) for a PUT
    or a PATCH; `current` reads the stored object once the body is in, and `vet` may refuse
    a PUT's body before it is field-validated (a wrong kind fails decoding first upstream)."""
    cluster_version = ctx.cluster.config.version
    if ctx.info.verb == "patch":
        raw = await ctx.raw_body()
        old = current()
        new = apply_patch(copy.deepcopy(old), ctx.request.content_type, raw, schema, defs)
        warnings = fieldvalidation.check_patched(
            ctx.query, raw, new, group, version, kind, cluster_version
        )
        return old, new, warnings
    new = await ctx.body()
    if vet is not None:
        vet(new)
    old = current()
    warnings = fieldvalidation.check_body(ctx.query, new, group, version, kind, cluster_version)
    return old, new, warnings


def answer(obj: Obj, warnings: list[str], status: int = 200) -> web.Response:
    """The object, with one `Warning` header per unknown field."""
    response = ok(obj, status)
    for name, value in fieldvalidation.warning_headers(warnings):
        response.headers.add(name, value)
    return response


def precondition(new: Obj, old: Obj, resource: str, name: str, group: str = "") -> None:
    """The optimistic lock every update shares, subresources included: a resourceVersion in
    the new object (a PUT's body, or what a PATCH leaves after applying) that is not the
    stored one is the registry's 409 (generic/registry/store.go, Update). Without one the
    update is unconditional, which pods and their subresources allow."""
    rv = (new.get("metadata") or {}).get("resourceVersion")
    if rv and rv != old["metadata"]["resourceVersion"]:
        raise conflict(resource, name, group)
