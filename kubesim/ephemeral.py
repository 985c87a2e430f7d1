"""`pods/ephemeralcontainers`: GET, PUT and PATCH of a whole Pod of which only
`spec.ephemeralContainers` is kept, as the apiserver's ephemeral-containers strategy does.

The body goes through the same server-side field validation as every other write (the
subresource's handlers are the generic ones of staging/src/k8s.io/apiserver/pkg/endpoints/
handlers, update.go and patch.go): unknown fields are dropped, warned about by default, and
refused under `fieldValidation=Strict`.
"""

from __future__ import annotations

import copy

from aiohttp import web

from kubesim import fieldvalidation
from kubesim.context import Ctx, ok
from kubesim.patches import apply_patch
from kubesim.pods import get_pod
from kubesim.status import bad_request


async def handle(ctx: Ctx) -> web.StreamResponse:
    if ctx.info.verb == "get":
        return ok(get_pod(ctx))
    version = ctx.cluster.config.version
    # The body is read before the pod, and nothing awaits between reading the pod and
    # storing it: two debug containers added at once must both land, as the apiserver's
    # retried update guarantees, not the second overwrite the first.
    if ctx.info.verb == "patch":
        raw = await ctx.request.read()
        pod = get_pod(ctx)
        new = apply_patch(copy.deepcopy(pod), ctx.request.content_type, raw)
        warnings = fieldvalidation.check_patched(ctx.query, raw, new, "", "v1", "Pod", version)
    else:
        new = await ctx.body()
        pod = get_pod(ctx)
        kind = new.get("kind", "Pod")
        if kind != "Pod":
            raise bad_request(
                f'{kind} in version "{new.get("apiVersion", "v1")}" cannot be handled '
                f'as a Pod: no kind "{kind}" is registered for version "v1" in scheme '
                '"pkg/api/legacyscheme/scheme.go:30"'
            )
        name = (new.get("metadata") or {}).get("name")
        if name and name != ctx.info.name:
            raise bad_request(
                f"the name of the object ({name}) does not match the name on the URL ({ctx.info.name})"  # noqa: E501
            )
        warnings = fieldvalidation.check_body(ctx.query, new, "", "v1", "Pod", version)
    spec = new.get("spec")
    if not isinstance(spec, dict):
        raise bad_request("spec: Required value")
    containers = spec.get("ephemeralContainers") or []
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        raise bad_request("spec.ephemeralContainers must be a list of containers")
    response = ok(ctx.cluster.update_ephemeral(pod, containers))
    for header, value in fieldvalidation.warning_headers(warnings):
        response.headers.add(header, value)
    return response
