"""`pods/ephemeralcontainers`: GET, PUT and PATCH of a whole Pod of which only
`spec.ephemeralContainers` is kept, as the apiserver's ephemeral-containers strategy does.

The body goes through the same server-side field validation as every other write (the
subresource's handlers are the generic ones of staging/src/k8s.io/apiserver/pkg/endpoints/
handlers, update.go and patch.go): unknown fields are dropped, warned about by default, and
refused under `fieldValidation=Strict`; a stale resourceVersion is the registry's 409, as for
the pod itself.
"""

from __future__ import annotations

from aiohttp import web

from kubesim.apiserver import writes
from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.pods import get_pod
from kubesim.status import bad_request
from kubesim.store import Obj


async def handle(ctx: Ctx) -> web.StreamResponse:
    if ctx.info.verb == "get":
        return ok(get_pod(ctx))
    pod, new, warnings = await writes.incoming(
        ctx, lambda: get_pod(ctx), "", "v1", "Pod", vet=lambda body: _whole_pod(ctx, body)
    )
    writes.precondition(new, pod, "pods", ctx.info.name)
    spec = new.get("spec")
    if not isinstance(spec, dict):
        raise bad_request("spec: Required value")
    containers = spec.get("ephemeralContainers") or []
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        raise bad_request("spec.ephemeralContainers must be a list of containers")
    return writes.answer(ctx.cluster.update_ephemeral(pod, containers), warnings)


def _whole_pod(ctx: Ctx, new: Obj) -> None:
    """A PUT carries a whole Pod, named as on the URL."""
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
            f"the name of the object ({name}) does not match the name on the URL ({ctx.info.name})"
        )
