"""The aiohttp application: authentication, impersonation, RBAC, routing, Status errors, logs.

Every request is logged once with its caller (and whom it impersonates) and outcome; every
failure, bugs included, is a `Status` body, so no client sees a dropped connection. The one
plain-text answer is the apiserver's own: impersonating groups without a user.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import structlog
from aiohttp import web

from kubesim import requestnotes
from kubesim.admission.fieldvalidation import warning_headers
from kubesim.apiserver import accounting, discovery, ephemeral, generic, openapi, pods, reviews
from kubesim.apiserver.accounting import RequestKind
from kubesim.apiserver.auth import User
from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.impersonation import impersonate
from kubesim.apiserver.rbac import Attributes, denial_message
from kubesim.apiserver.requestinfo import RequestInfo, parse
from kubesim.cluster import Cluster
from kubesim.kubelet import attach, logs, metrics
from kubesim.kubelet import exec as exec_
from kubesim.requestnotes import RequestNotes
from kubesim.status import ApiError, forbidden, path_not_found

log = structlog.get_logger("kubesim.api")
# The pod subresources that connect a stream to a container.
CONNECT = ("exec", "attach", "portforward")
Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
NOT_ALLOWED = ApiError(
    405, "the server does not allow this method on the requested resource", "MethodNotAllowed", {}
)
CLUSTER_KEY = web.AppKey("cluster", Cluster)
# The websocket subresources served: a GET that upgrades (or an SPDY POST); see _authorize.
STREAMS = ("exec", "attach")
MEMORY_PREFIX = "/kubesim/v1/namespaces/"
USER_KEY = web.RequestKey("user", str)
IMPERSONATED_KEY = web.RequestKey("impersonated", str)


def _route(info: RequestInfo, cluster: Cluster) -> Handler:
    resource = discovery.find(info.group, info.resource)
    if resource is None or info.version != resource.version:
        raise path_not_found()
    if info.namespace and not resource.namespaced and info.resource != "namespaces":
        raise path_not_found()
    if info.subresource:
        subs = {name: verbs for name, _, verbs in resource.subresources}
        if info.subresource not in subs or not info.name:
            raise path_not_found()
        if info.subresource == "ephemeralcontainers" and not cluster.config.ephemeral_enabled:
            raise path_not_found()
        handlers: dict[str, Handler] = {
            "ephemeralcontainers": ephemeral.handle,
            "log": logs.handle,
            "exec": exec_.handle,
            "attach": attach.handle,
            "status": pods.status,
        }
        allowed = subs[info.subresource]
        if info.subresource in STREAMS and info.verb in ("get", "create"):
            return handlers[info.subresource]
        if info.verb not in allowed:
            raise NOT_ALLOWED
        return handlers[info.subresource]
    if info.verb not in resource.verbs:
        raise NOT_ALLOWED
    if info.group == "metrics.k8s.io":
        return metrics.handle
    if info.resource == "pods":
        return pods.handle
    if info.resource == "selfsubjectaccessreviews":
        return reviews.handle
    if info.resource == "selfsubjectrulesreviews":
        return reviews.rules
    if info.resource == "selfsubjectreviews":
        return reviews.whoami
    return generic.handle


def _authorize(ctx: Ctx) -> None:
    """The authorization filter (endpoints/filters/authorization.go), with the request's own
    verb: a websocket exec or attach is a GET, so `get`; an SPDY one a POST, so `create`."""
    info, rbac = ctx.info, ctx.cluster.rbac
    attrs = Attributes(
        info.verb, info.group, info.resource, info.subresource, info.namespace, info.name
    )
    allowed, reason = rbac.authorize(ctx.user, attrs)
    subject = f"{info.resource}.{info.group}" if info.group else info.resource
    if not allowed:
        raise forbidden(subject, info.name, denial_message(ctx.user, attrs, reason), info.group)
    connect = info.resource == "pods" and info.subresource in CONNECT
    if connect and info.verb != "create" and ctx.cluster.config.connect_needs_create:
        # From 1.35 the pod registry's Connect authorizes `create` too (pkg/registry/core/
        # pod/rest/subresources.go and authorization.go, ensureAuthorizedForVerb;
        # kubernetes/kubernetes#134577). Its 403 is errors.NewForbidden with the
        # authorizer's reason alone, empty for a plain RBAC denial.
        allowed, reason = rbac.authorize(ctx.user, replace(attrs, verb="create"))
        if not allowed:
            raise forbidden(subject, info.name, reason, info.group)


async def _discovery(request: web.Request, cluster: Cluster) -> web.StreamResponse:
    path = request.path.rstrip("/")
    ephemeral_on = cluster.config.ephemeral_enabled
    if path == "/version":
        return ok(discovery.version_info(cluster.config.version))
    if path == "/api":
        return ok(discovery.core_versions())
    if path == "/apis":
        return ok(discovery.group_list())
    if path.startswith(openapi.V3):
        body = openapi.document(path, cluster.config.version)
        if body is None:
            raise path_not_found()
        return web.Response(body=body, content_type="application/json")
    parts = path.split("/")[1:]
    if parts[0] == "api" and len(parts) == 2:
        doc = discovery.resource_list("", parts[1], ephemeral_on)
    elif parts[0] == "apis" and len(parts) == 2:
        doc = discovery.group(parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        doc = discovery.resource_list(parts[1], parts[2], ephemeral_on)
    else:
        doc = None
    if doc is None:
        raise path_not_found()
    return ok(doc)


def _count(request: web.Request, cluster: Cluster, info: RequestInfo | None) -> None:
    agent = request.headers.get("User-Agent", "")
    if info is None:
        kind = RequestKind(agent, request.method.lower(), path=request.path)
    else:
        kind = RequestKind(agent, info.verb, info.group, info.resource, info.subresource)
    cluster.requests.record(kind)


def _accounting(request: web.Request, cluster: Cluster, user: User) -> web.StreamResponse:
    """`/kubesim/requests` (kubesim/apiserver/accounting.py), for the admin only."""
    verb = "delete" if request.method == "DELETE" else "get"
    if not user.is_master:
        attrs = Attributes(verb, path=accounting.PATH)
        raise ApiError(403, f"forbidden: {denial_message(user, attrs)}", "Forbidden", {})
    if request.method == "DELETE":
        cluster.requests.reset()
    elif request.method != "GET":
        raise NOT_ALLOWED
    return ok(cluster.requests.snapshot().to_json())


async def _serve(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER_KEY]
    watch = request.query.get("watch", "") in ("1", "true")
    info = parse(request.method, request.path, watch)
    accounting_request = request.path.rstrip("/") == accounting.PATH
    if not accounting_request:
        _count(request, cluster, info)
    user = cluster.tokens.user_for(request.headers.get("Authorization", ""))
    if user is None:
        raise ApiError(401, "Unauthorized", "Unauthorized", {})
    if accounting_request:
        return _accounting(request, cluster, user)
    request[USER_KEY] = user.name
    # As in the apiserver, impersonation comes right after authentication, before anything
    # (discovery included) is served or authorized: from here on the request is the new user.
    user = impersonate(user, request.headers, request.raw_path, cluster.rbac)
    if user.impersonator:
        request[IMPERSONATED_KEY] = user.name
    if request.path.startswith(MEMORY_PREFIX):
        return _memory(request, cluster)
    if info is None:
        if request.method != "GET":
            raise NOT_ALLOWED if request.path in ("/api", "/apis", "/version") else path_not_found()
        return await _discovery(request, cluster)
    cluster.faults.check(info)  # planned faults (kubesim/faults.py), as APF would: before authz
    ctx = Ctx(request, info, user, cluster)
    handler = _route(info, cluster)
    _authorize(ctx)
    return await handler(ctx)


def _memory(request: web.Request, cluster: Cluster) -> web.StreamResponse:
    """kubesim's own endpoint: each container's peak memory (kubesim/kubelet/metrics.py)."""
    parts = request.path.removeprefix(MEMORY_PREFIX).strip("/").split("/")
    if request.method != "GET" or len(parts) != 4 or parts[1] != "pods" or parts[3] != "memory":
        raise path_not_found()
    found = metrics.memory_document(cluster.kubelet, parts[0], parts[2])
    if found is None:
        raise path_not_found()
    return ok(found)


@web.middleware
async def _errors_and_logs(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.monotonic()
    status = 500
    notes = RequestNotes()
    noting = requestnotes.CURRENT.set(notes)
    try:
        response = await handler(request)
        status = response.status
        return _with_warnings(response, notes)
    except ApiError as exc:
        status = exc.code
        answer = web.json_response(exc.body(), status=exc.code, headers=exc.headers)
        return _with_warnings(answer, notes)
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception as exc:
        log.exception("handler failed", method=request.method, path=request.path)
        error = ApiError(
            500, f"Internal error occurred: {type(exc).__name__}: {exc}", "InternalError", {}
        )
        return web.json_response(error.body(), status=500)
    finally:
        requestnotes.CURRENT.reset(noting)
        # Like the apiserver's "<user> is acting as <user>": both names when impersonating.
        acting = {"impersonated": request[IMPERSONATED_KEY]} if IMPERSONATED_KEY in request else {}
        # The audit annotations (PodSecurity's) go with the request's one log line, which is
        # kubesim's audit trail.
        audit = {"annotations": notes.annotations} if notes.annotations else {}
        log.info(
            "request",
            method=request.method,
            path=request.path_qs,
            user=request.get(USER_KEY, ""),
            **acting,
            status=status,
            ms=round((time.monotonic() - started) * 1000, 1),
            **audit,
        )


def _with_warnings(response: web.StreamResponse, notes: RequestNotes) -> web.StreamResponse:
    """Admission's warnings as `Warning` headers, after any field-validation ones."""
    if not response.prepared:
        for name, value in warning_headers(notes.warnings):
            response.headers.add(name, value)
    return response


def make_app(cluster: Cluster) -> web.Application:
    app = web.Application(middlewares=[_errors_and_logs], client_max_size=16 * 1024 * 1024)
    app[CLUSTER_KEY] = cluster
    app.router.add_route("*", "/{tail:.*}", _serve)
    return app
