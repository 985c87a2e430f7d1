"""Planned faults: API answers given instead of the real one, and image pulls that fail.

sim.faults.add(500, verb="get", resource="pods", times=2)          # the next 2 GETs of a pod
sim.faults.add(429, resource="pods", seconds=30, retry_after=1)    # every pods call for 30 s
sim.faults.add(409, verb="patch", subresource="ephemeralcontainers", times=1)
sim.faults.fail_pull("eclipse-temurin:25-jdk")                      # Docker Hub's rate limit

Every answer is what a real apiserver sends, from k8s.io/apimachinery/pkg/api/errors and
k8s.io/apiserver (see `_status`); `journal` records the last JOURNAL_SIZE resource requests and
their faults (`clear_journal()` empties it), so a long-running bot cannot grow it without bound.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from kubesim.apiserver.requestinfo import RequestInfo
from kubesim.kubelet.images import DOCKER_HUB, normalise, split
from kubesim.status import ApiError, conflict

# containerd's answer when Docker Hub refuses an anonymous pull (429 from registry-1.docker.io):
# the kubelet puts it in the container's waiting.message and, after `Failed to pull image
# "<ref>": `, in its Failed Event (kubesim/kubelet/pulling.py).
PULL_RATE_LIMIT = (
    'failed to pull and unpack image "{full}": failed to copy: httpReadSeeker: failed '
    "open: unexpected status code https://{registry}/v2/{repo}/manifests/{tag}: 429 "
    "Too Many Requests - Server message: toomanyrequests: You have reached your pull rate "
    "limit. You may increase the limit by authenticating and upgrading: "
    "https://www.docker.com/increase-rate-limit"
)

# What API Priority and Fairness (and the older max-in-flight filter) write with a 429:
# k8s.io/apiserver/pkg/server/filters/maxinflight.go, tooManyRequests, via Go's http.Error.
APF_TOO_MANY = "Too many requests, please try again later."
# A 429 Status the apiserver itself builds: the watch cache, until it is ready, answers reads with
# errors.NewTooManyRequests(<this>, 1) (k8s.io/apiserver/pkg/storage/cacher), which is
# what a real server's 429 Status most often says.
CACHE_NOT_READY = "storage is (re)initializing"
# How many requests the journal keeps (the oldest go first).
JOURNAL_SIZE = 10_000

Body = Literal["status", "text"]


@dataclass
class Rule:
    """Which requests fail and how; a `None` matcher matches anything, and `subresource=""`
    only requests on the object itself. Lets the first `after` matches through; ends after
    `times` answers or at `until`."""

    status: int
    verb: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    times: int | None = None
    until: float | None = None
    retry_after: int | None = None
    message: str | None = None
    body: Body = "status"
    after: int = 0
    used: int = 0
    passed: int = 0

    def matches(self, info: RequestInfo) -> bool:
        wanted = (self.verb, self.resource, self.subresource, self.namespace, self.name)
        actual = (info.verb, info.resource, info.subresource, info.namespace, info.name)
        return all(w is None or w == a for w, a in zip(wanted, actual, strict=True))

    def spent(self, now: float) -> bool:
        if self.times is not None and self.used >= self.times:
            return True
        return self.until is not None and now >= self.until


@dataclass(frozen=True)
class Seen:
    """One resource request as the fault hook saw it; `status` 0 means it went through."""

    verb: str
    resource: str
    subresource: str
    namespace: str
    name: str
    status: int


class Faults:
    """The rule list, safe to change from a test's thread while the server runs. `clock` is
    what `seconds=` rules are timed by (a test may pass its own)."""

    def __init__(
        self, journal_size: int = JOURNAL_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._pulls: dict[str, str] = {}
        self.clock = clock
        self.journal: deque[Seen] = deque(maxlen=journal_size)

    def add(
        self,
        status: int,
        *,
        verb: str | None = None,
        resource: str | None = None,
        subresource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        times: int | None = None,
        seconds: float | None = None,
        retry_after: int | None = None,
        message: str | None = None,
        body: Body = "status",
        after: int = 0,
    ) -> Rule:
        """Answer matching requests with `status` for the next `times` of them, or for
        `seconds`; with neither, until `clear()`. The first `after` matches go through."""
        until = None if seconds is None else self.clock() + seconds
        rule = Rule(
            status,
            verb,
            resource,
            subresource,
            namespace,
            name,
            times,
            until,
            retry_after,
            message,
            body,
            after,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_pull(self, ref: str, message: str | None = None) -> None:
        """Pulls of `ref` fail (ErrImagePull, then ImagePullBackOff) even if the catalog has it,
        and the node is taken not to have it (as on a node that never pulled it), so even an
        IfNotPresent container pulls and fails. `message` is containerd's error text."""
        key = normalise(ref)
        host, repo, tag = split(ref)
        registry = "registry-1.docker.io" if host == DOCKER_HUB else host
        text = message or PULL_RATE_LIMIT.format(
            full=key, registry=registry, repo=repo, tag=tag.lstrip("@")
        )
        with self._lock:
            self._pulls[key] = text

    def pull_error(self, ref: str) -> str | None:
        with self._lock:
            return self._pulls.get(normalise(ref))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._pulls.clear()
            self.journal.clear()

    def clear_journal(self) -> None:
        """Forget the requests seen so far; the rules stay."""
        with self._lock:
            self.journal.clear()

    def seen(self, **match: str) -> list[Seen]:
        """Journal entries whose fields equal `match` (verb=..., subresource=...)."""
        with self._lock:
            entries = list(self.journal)
        return [s for s in entries if all(getattr(s, k) == v for k, v in match.items())]

    def check(self, info: RequestInfo) -> None:
        """Raise the planned answer for this request, if a rule wants one."""
        now = self.clock()
        with self._lock:
            self._rules = [r for r in self._rules if not r.spent(now)]
            rule = next((r for r in self._rules if r.matches(info)), None)
            if rule is not None and rule.passed < rule.after:
                rule.passed += 1
                rule = None
            if rule is not None:
                rule.used += 1
            status = rule.status if rule is not None else 0
            self.journal.append(
                Seen(info.verb, info.resource, info.subresource, info.namespace, info.name, status)
            )
        if rule is None:
            return
        if rule.body == "text":
            raise _plain_text(rule)
        raise _status(rule, info)


def _plain_text(rule: Rule) -> web.HTTPException:
    """What API Priority and Fairness sends when it rejects a request: not a Status but Go's
    http.Error text (k8s.io/apiserver/pkg/server/filters/maxinflight.go, tooManyRequests)."""
    headers = {"X-Content-Type-Options": "nosniff"}
    if rule.retry_after is not None:
        headers["Retry-After"] = str(rule.retry_after)
    text = (rule.message or APF_TOO_MANY) + "\n"
    kind = _TEXT_ANSWERS.get(rule.status, web.HTTPInternalServerError)
    return kind(text=text, content_type="text/plain", headers=headers)


_TEXT_ANSWERS: dict[int, type[web.HTTPException]] = {
    429: web.HTTPTooManyRequests,
    500: web.HTTPInternalServerError,
    502: web.HTTPBadGateway,
    503: web.HTTPServiceUnavailable,
}


def _status(rule: Rule, info: RequestInfo) -> ApiError:
    """A `Status` as k8s.io/apimachinery/pkg/api/errors builds it for this code."""
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if rule.status == 409:
        error = conflict(info.resource, info.name, info.group)
        if rule.message:
            error.message = rule.message
        return error
    if rule.status == 429:
        # errors.NewTooManyRequests(message, retryAfterSeconds); the handler's ErrorNegotiated
        # (endpoints/handlers/responsewriters/writers.go) copies retryAfterSeconds into the
        # Retry-After header. Without a message of the rule's own, the watch cache's answer,
        # which always asks for 1 s.
        retry_after = rule.retry_after
        if rule.message is None and retry_after is None:
            retry_after = 1
        if retry_after:
            details["retryAfterSeconds"] = retry_after
            headers["Retry-After"] = str(retry_after)
        message = rule.message or CACHE_NOT_READY
        return ApiError(429, message, "TooManyRequests", details, headers=headers)
    if rule.status == 503:
        # errors.NewServiceUnavailable(reason)
        message = rule.message or "the server is currently unable to handle the request"
        return ApiError(503, message, "ServiceUnavailable", {})
    # errors.NewInternalError(err): the error text is both the message and the one cause. Any
    # other status (500, 502, 504...) is answered this way too, as a Status with reason
    # InternalError and the rule's code: apimachinery has no constructor for most of them, and a
    # 502/504 in a real cluster usually comes from a proxy in front, not as a Status at all
    # (`body="text"` is nearer to that).
    cause = rule.message or "etcdserver: request timed out"
    details = {"causes": [{"message": cause}]}
    return ApiError(rule.status, f"Internal error occurred: {cause}", "InternalError", details)
