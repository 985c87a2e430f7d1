"""Kubernetes `Status` bodies and the one exception type every handler raises to produce them.

Handlers raise `ApiError`; the server middleware turns it (and anything unexpected) into a
real `Status` object so clients such as kubectl and the official client parse it as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# k8s.io/apiserver/pkg/registry/generic/registry/store.go: what an update with a stale
# resourceVersion reports (OptimisticLockErrorMsg).
OPTIMISTIC_LOCK = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@dataclass(frozen=True)
class Cause:
    reason: str
    message: str
    field: str = ""

    def to_json(self) -> dict[str, str]:
        body = {"reason": self.reason, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


@dataclass
class ApiError(Exception):
    code: int
    message: str
    reason: str = ""
    details: dict[str, Any] | None = None
    causes: list[Cause] = field(default_factory=list)
    # Sent with the body, e.g. Retry-After beside details.retryAfterSeconds on a 429.
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason or REASONS.get(self.code, '')}: {self.message}"

    def body(self) -> dict[str, Any]:
        details = dict(self.details or {})
        if self.causes:
            details["causes"] = [c.to_json() for c in self.causes]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason or REASONS.get(self.code, "Unknown"),
            "details": details,
            "code": self.code,
        }


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(404, f'{resource} "{name}" not found', "NotFound", details)


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(409, f'{resource} "{name}" already exists', "AlreadyExists", details)


def path_not_found() -> ApiError:
    """What an apiserver answers for a path (or subresource) it does not serve at all."""
    return ApiError(404, "the server could not find the requested resource", "NotFound", {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")


def method_not_allowed(method: str, what: str) -> ApiError:
    return ApiError(405, f"{method} is not supported on {what}", "MethodNotAllowed", {})


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """422 in the apiserver's format: one error printed bare, several as `[e1, e2]`."""
    texts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return ApiError(422, f'{kind} "{name}" is invalid: {joined}', "Invalid", details, causes)


def conflict(resource: str, name: str, group: str = "") -> ApiError:
    """errors.NewConflict with OptimisticLockErrorMsg: a write whose metadata.resourceVersion is
    not the stored one (k8s.io/apiserver/pkg/registry/generic/registry/store.go, Update)."""
    qualified = f"{resource}.{group}" if group else resource
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": {OPTIMISTIC_LOCK}',
        "Conflict",
        details,
    )


def request_entity_too_large(limit: int) -> ApiError:
    """The body of a write is over the apiserver's own limit (handlers/rest.go,
    limitedReadBody: errors.NewRequestEntityTooLargeError), before anything is decoded."""
    return ApiError(413, f"Request entity too large: limit is {limit}", "RequestEntityTooLarge", {})


@dataclass
class StorageError(ApiError):
    """An error from etcd that the apiserver passes on unconverted. responsewriters'
    ErrorToAPIStatus makes any such error a 500 with reason StatusReasonUnknown (the empty
    string, so `reason` is left out of the JSON), no details, and etcd's own text as the
    message; kubectl then prints `Error from server: <message>`."""

    def body(self) -> dict[str, Any]:
        status = super().body()
        del status["reason"], status["details"]
        return status


# etcd's rpctypes.ErrGRPCRequestTooLarge (codes.InvalidArgument), which it answers for any
# request over --max-request-bytes (server/etcdserver/v3_server.go); the apiserver's
# handlers only recognise it to retry once without managedFields (handlers/rest.go,
# isTooLargeError) and otherwise return it as it is.
ETCD_REQUEST_TOO_LARGE = "etcdserver: request is too large"


def request_too_large() -> StorageError:
    return StorageError(500, ETCD_REQUEST_TOO_LARGE)


def forbidden(resource: str, name: str, why: str, group: str = "") -> ApiError:
    subject = f'{resource} "{name}"' if name else resource
    details: dict[str, Any] = {"name": name} if name else {}
    details["kind"] = resource.split(".")[0]
    if group:
        details["group"] = group
    return ApiError(403, f"{subject} is forbidden: {why}", "Forbidden", details)


def success(name: str = "", kind: str = "", uid: str = "", group: str = "") -> dict[str, Any]:
    """A DELETE's answer for an object removed at once (the registry's default: no
    ReturnDeletedObject), with details naming what went."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    }
    details = {
        k: v for k, v in (("name", name), ("group", group), ("kind", kind), ("uid", uid)) if v
    }
    if details:
        body["details"] = details
    return body
