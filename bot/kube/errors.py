"""What a Kubernetes API failure means, as exception classes: Forbidden, NotFound, Invalid, ...

The API server answers every failure with a `Status` body (`kind: Status`, `code`, `reason`,
`message`, `details.causes`). `error_from_status` turns one into a `KubeError` subclass so the
rest of jdebug catches meaning (`KubeForbidden`), never HTTP codes or message strings. The
user-facing message is the server's own sentence: it names the RBAC rule or PodSecurity check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.model.errors import JdebugError

MISSING_RESOURCE = "the server could not find the requested resource"


@dataclass(frozen=True)
class Cause:
    """An entry of `details.causes`: FieldValueDuplicate on `spec.ephemeralContainers[1].name`."""

    reason: str
    message: str
    field: str


class KubeError(JdebugError):
    """A failed API call; `message` is the sentence the user reads (the server's own words)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        reason: str = "",
        kube_message: str = "",
        causes: tuple[Cause, ...] = (),
        name: str = "",
        kind: str = "",
        retry_after: float | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, fix)
        self.status = status
        self.reason = reason
        self.kube_message = kube_message or message
        self.causes = causes
        self.name = name
        self.kind = kind
        self.retry_after = retry_after


class KubeBadRequest(KubeError):
    """400: the request itself is wrong, e.g. `container x is not valid for pod y`."""


class KubeUnauthorized(KubeError):
    """401: the API server did not accept our credentials (expired or wrong token)."""


class KubeForbidden(KubeError):
    """403: RBAC denied the verb, or PodSecurity admission rejected the pod."""

    @property
    def is_pod_security(self) -> bool:
        return "violates PodSecurity" in self.kube_message


class KubeNotFound(KubeError):
    """404: the object does not exist, or (see `is_missing_resource`) the API path does not."""

    @property
    def is_missing_resource(self) -> bool:
        """True when the server does not serve this resource at all (e.g. an old cluster without
        `pods/ephemeralcontainers`); kubectl tells these apart the same way: no `details.name`."""
        return not self.name and self.kube_message == MISSING_RESOURCE


class KubeConflict(KubeError):
    """409: AlreadyExists, or the object changed under us (stale resourceVersion)."""


class KubeInvalid(KubeError):
    """422: validation failed; `causes` name each field and why."""


class KubeTooManyRequests(KubeError):
    """429: API Priority and Fairness turned the request away; `retry_after` says when to retry."""


class KubeServerError(KubeError):
    """5xx: the API server (or something in front of it) failed."""


class KubeUnreachable(KubeError):
    """No HTTP answer at all: connection refused, TLS failure, DNS, or a dropped connection."""


class KubeExecFailed(KubeError):
    """The exec stream ended with a Failure that carries no exit code: the runtime could not
    start the command at all (e.g. containerd's `executable file not found in $PATH` for an
    image without /bin/sh)."""


class KubeConfigError(JdebugError):
    """The kubeconfig or in-cluster credentials cannot be read or lack what we need."""


_BY_CODE: dict[int, type[KubeError]] = {
    400: KubeBadRequest,
    401: KubeUnauthorized,
    403: KubeForbidden,
    404: KubeNotFound,
    409: KubeConflict,
    422: KubeInvalid,
    429: KubeTooManyRequests,
}
_FIXES: dict[type[KubeError], str] = {
    KubeUnauthorized: "check the bot's kubeconfig or ServiceAccount token",
}
# The apiserver's impersonation filter refuses with `users "x" is forbidden: User "<bot>"
# cannot impersonate resource "users" ...`: the bot may not act as this person.
_CANNOT_IMPERSONATE = "cannot impersonate resource"
IMPERSONATE_FIX = (
    "add the user or group to resourceNames in the jdebug-impersonate ClusterRole "
    "(deploy/components/impersonation), or map this person to one jdebug may impersonate"
)


def error_from_status(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    http_reason: str = "",
) -> KubeError:
    """The `KubeError` for an HTTP status and its body, which is usually a `Status` object but
    may be anything a proxy in front of the API server sends (HTML, text, nothing). Codes with
    no class of their own (405, 410, ...) give a plain `KubeError`; this never raises."""
    parsed = _decode(body)
    code = status or _as_int(parsed.get("code")) or 0
    details = parsed.get("details")
    details = details if isinstance(details, dict) else {}
    message = str(parsed.get("message") or "") or _plain_text(body)
    if not message:
        message = f"the Kubernetes API answered HTTP {code} {http_reason}".rstrip()
    cls = _BY_CODE.get(code, KubeServerError if 500 <= code <= 599 else KubeError)
    return cls(
        message,
        status=code,
        reason=str(parsed.get("reason") or http_reason or ""),
        kube_message=message,
        causes=_causes(details.get("causes")),
        name=str(details.get("name") or ""),
        kind=str(details.get("kind") or ""),
        retry_after=_retry_after(headers, details),
        fix=IMPERSONATE_FIX if _CANNOT_IMPERSONATE in message else _FIXES.get(cls),
    )


def _decode(body: bytes | str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _plain_text(body: bytes | str | None) -> str:
    """The first line of a non-JSON body, short enough to show a user."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if text.lstrip().startswith("{"):
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:200]


def _causes(raw: object) -> tuple[Cause, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        Cause(str(c.get("reason") or ""), str(c.get("message") or ""), str(c.get("field") or ""))
        for c in raw
        if isinstance(c, dict)
    )


def _retry_after(headers: Mapping[str, str] | None, details: dict[str, Any]) -> float | None:
    """Seconds from the Retry-After header (delta-seconds form) or `details.retryAfterSeconds`."""
    value: object = None
    if headers is not None:
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        value = details.get("retryAfterSeconds")
    try:
        seconds = float(str(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from an API server, and the backoff covers it
    return seconds if seconds is not None and seconds >= 0 else None


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
