"""How one Kubernetes API call runs: in a small thread pool, within one deadline, retried only
where repeating it is safe (429 always, with Retry-After honoured; 5xx for reads; 409 once for
patches), as a plain JSON REST request, with transport failures turned into `bot.kube.errors`.
An `acting_as` view sends every request with `Impersonate-User`/`Impersonate-Group` headers.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import ssl
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import urllib3
import websocket
from kubernetes import client

from bot.kube.errors import (
    KubeConflict,
    KubeError,
    KubeServerError,
    KubeTooManyRequests,
    KubeUnreachable,
    error_from_status,
)
from bot.model.errors import DeadlineExceeded
from bot.model.identity import KubeIdentity

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
MAX_WORKERS = 8
MAX_TRIES = 3
_CONNECT_TIMEOUT_S = 10.0
_BACKOFF_S = 0.25
_MAX_RETRY_AFTER_S = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """What a call may repeat: 429 always (the server did nothing), 5xx only when repeating
    cannot do anything twice, and 409 up to `conflicts` extra times."""

    server_errors: bool
    conflicts: int = 0


READ = RetryPolicy(server_errors=True)
WRITE = RetryPolicy(server_errors=False)
PATCH = RetryPolicy(server_errors=False, conflicts=1)


class ApiCaller:
    """Runs blocking client work off the event loop, one pool and one ApiClient per identity.

    `configuration` is adjusted in place: connection pool size, transport-level retries.
    """

    def __init__(
        self,
        configuration: client.Configuration,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        # The pool holds one connection per worker, or threads queue for sockets. urllib3 only
        # retries broken connections; HTTP statuses (429 + Retry-After included) are retried by
        # `call`, which knows which calls are safe to repeat and keeps within the deadline.
        configuration.connection_pool_maxsize = max_workers
        configuration.retries = urllib3.Retry(
            total=2, connect=2, read=1, redirect=0, status=0, respect_retry_after_header=False
        )
        self._client = client.ApiClient(configuration)
        self._client.user_agent = "jdebug"
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kube-api")
        self._timeout_s = timeout_s
        self._owner = True
        self.server = str(configuration.host)
        self.identity: KubeIdentity | None = None

    def acting_as(self, identity: KubeIdentity) -> ApiCaller:
        """A view sharing this caller's pool and connections whose every request carries
        `identity` in impersonation headers; closing the view closes nothing."""
        view = copy.copy(self)
        view._owner = False
        view.identity = identity
        return view

    def close(self) -> None:
        if not self._owner:
            return
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()  # type: ignore[no-untyped-call]

    async def json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        timeout_s: float | None,
        params: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        retry: RetryPolicy = READ,
    ) -> dict[str, Any]:
        """One REST call whose answer must be a JSON object."""
        work = functools.partial(
            self.request,
            method,
            path,
            params=params,
            query=query,
            body=body,
            content_type=content_type,
        )
        data = await self.call(what, work, retry, timeout_s)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise KubeError(f"the Kubernetes API answered {what} with something other than JSON")
        return parsed

    async def call(
        self, what: str, work: Callable[[float], T], retry: RetryPolicy, timeout_s: float | None
    ) -> T:
        """`work(seconds_left)` in the pool, repeated per `retry`, all within one deadline."""
        seconds = self._timeout_s if timeout_s is None else timeout_s
        ends = time.monotonic() + seconds
        loop = asyncio.get_running_loop()
        scope = asyncio.timeout(seconds)
        tries, conflicts = 0, 0
        try:
            async with scope:
                while True:
                    tries += 1
                    try:
                        return await loop.run_in_executor(
                            self._executor, functools.partial(self._translated, work, ends)
                        )
                    except KubeError as exc:
                        delay = _retry_delay(exc, retry, tries, conflicts)
                        if delay is None or time.monotonic() + delay >= ends:
                            if isinstance(exc, KubeTooManyRequests | KubeServerError):
                                raise gave_up(exc, what, tries) from exc
                            raise
                        conflicts += isinstance(exc, KubeConflict)
                        await asyncio.sleep(delay)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise too_slow(what, seconds) from exc

    def request(
        self,
        method: str,
        path: str,
        seconds: float,
        *,
        params: dict[str, str] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> bytes:
        """One HTTP request; bodies go as plain JSON, not through the client's models, so any
        field the server knows is accepted and nothing is dropped on the way back."""
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        request = self._client.param_serialize(
            method=method,
            resource_path=path,
            path_params=params,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        method, url, serialized, sent_body, post = request
        sent_headers: Mapping[str, str] = serialized
        if self.identity is not None:
            sent_headers = with_impersonation(serialized, self.identity)
        response = self._client.call_api(
            method,
            url,
            sent_headers,
            sent_body,
            post,
            _request_timeout=(min(_CONNECT_TIMEOUT_S, seconds), seconds),
        )
        data = cast(bytes, response.read())  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            raise error_from_status(
                response.status, data, dict(response.headers), str(response.reason or "")
            )
        return data

    def _translated(self, work: Callable[[float], T], ends: float) -> T:
        """Run `work` with the seconds left, turning transport failures into KubeErrors."""
        try:
            return work(max(ends - time.monotonic(), 0.05))
        except client.ApiException as exc:
            raise self._from_api_exception(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError, websocket.WebSocketException) as exc:
            raise self._unreachable(exc) from exc

    def _from_api_exception(self, exc: client.ApiException) -> KubeError:
        """The client reports websocket handshake failures as status 0; the HTTP answer itself
        is on the chained websocket exception."""
        status = int(exc.status or 0)
        if status:
            headers = dict(exc.headers or {})
            return error_from_status(status, exc.body, headers, str(exc.reason or ""))
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, websocket.WebSocketBadStatusException):
            return error_from_status(
                cause.status_code,
                cause.resp_body,
                dict(cause.resp_headers or {}),
                str(cause.status_message or ""),
            )
        return self._unreachable(cause or exc)

    def _unreachable(self, exc: BaseException) -> KubeUnreachable:
        return KubeUnreachable(
            f"cannot reach the Kubernetes API server at {self.server}: {_root_cause(exc)}",
            fix="check the server address in the kubeconfig, its CA, and that it is up",
        )


def impersonation_headers(identity: KubeIdentity) -> list[tuple[str, str]]:
    """One `Impersonate-User`, and one `Impersonate-Group` line per group: the API server
    reads repeated header lines, not a comma list (kubectl sends them the same way)."""
    return [("Impersonate-User", identity.user)] + [
        ("Impersonate-Group", group) for group in identity.groups
    ]


def with_impersonation(headers: dict[str, str], identity: KubeIdentity) -> urllib3.HTTPHeaderDict:
    """`headers` plus the impersonation lines, in a dict urllib3 sends repeated keys from."""
    combined = urllib3.HTTPHeaderDict(headers)
    for name, value in impersonation_headers(identity):
        combined.add(name, value)
    return combined


def gave_up(error: KubeError, what: str, tries: int) -> KubeError:
    """The same error, told as one sentence: which call, the server's words, what to do.
    The server's own "Internal error occurred: etcdserver: request timed out" says neither
    what jdebug was doing nor whether trying again helps."""
    words = (error.kube_message.strip().splitlines() or [""])[0][:200]
    detail = f"HTTP {error.status}" + (f": {words}" if words else "")
    tried = f" {tries} times in a row" if tries > 1 else ""
    if isinstance(error, KubeTooManyRequests):
        message = (
            f"the Kubernetes API server is overloaded and turned away the call to {what}{tried} "
            f"({detail}); try again in a minute"
        )
    else:
        message = (
            f"the Kubernetes API server failed to {what}{tried} ({detail}); try again in a "
            "minute, and if it keeps failing ask a cluster admin to check the API server"
        )
    return type(error)(
        message,
        status=error.status,
        reason=error.reason,
        kube_message=error.kube_message,
        causes=error.causes,
        name=error.name,
        kind=error.kind,
        retry_after=error.retry_after,
    )


def too_slow(what: str, seconds: float) -> DeadlineExceeded:
    return DeadlineExceeded(f"the Kubernetes call `{what}` took longer than {seconds:g} s")


def _retry_delay(exc: KubeError, retry: RetryPolicy, tries: int, conflicts: int) -> float | None:
    """Seconds to wait before trying again, or None to give up with `exc`."""
    if isinstance(exc, KubeConflict):
        return _BACKOFF_S if conflicts < retry.conflicts else None
    if tries >= MAX_TRIES:
        return None
    if isinstance(exc, KubeTooManyRequests) or (
        retry.server_errors and isinstance(exc, KubeServerError)
    ):
        if exc.retry_after is not None:
            return min(exc.retry_after, _MAX_RETRY_AFTER_S)
        return float(_BACKOFF_S * 2 ** (tries - 1))
    return None


def _root_cause(exc: BaseException) -> str:
    """The innermost reason in urllib3's wrappers: "Connection refused", a TLS verify error."""
    current: BaseException = exc
    for _ in range(10):
        inner: object = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = current.__cause__ or current.__context__
        if not isinstance(inner, BaseException) and current.args:
            inner = current.args[0]
        if not isinstance(inner, BaseException) or inner is current:
            break
        current = inner
    if isinstance(current, ssl.SSLCertVerificationError):
        return f"TLS: {current.verify_message or current.reason}"
    if isinstance(current, OSError) and current.strerror:
        return current.strerror
    return str(current) or type(current).__name__
