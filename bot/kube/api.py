"""The one place jdebug talks to the Kubernetes API, and the only importer of `kubernetes`.

`KubeApi` offers async methods over the official sync client: each call runs in a small thread
pool, ends by its deadline (`DeadlineExceeded`), speaks plain JSON dicts, and turns failures into
`bot.kube.errors`. Reads retry 429/5xx (3 tries, Retry-After honoured); writes retry only 429,
which the server sends before acting on a request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import urllib3
import websocket
import yaml
from kubernetes import client, config
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.stream import stream

from bot.errors import DeadlineExceeded
from bot.kube.errors import (
    KubeConfigError,
    KubeConflict,
    KubeError,
    KubeNotFound,
    KubeServerError,
    KubeTooManyRequests,
    KubeUnreachable,
    error_from_status,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
MAX_WORKERS = 8
MAX_TRIES = 3
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
_CONNECT_TIMEOUT_S = 10.0
_BACKOFF_S = 0.25
_MAX_RETRY_AFTER_S = 10.0
_STDOUT, _STDERR, _STATUS = 1, 2, 3


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int


@dataclass(frozen=True)
class _Retry:
    """What a call may repeat: 429 always (the server did nothing), 5xx only when repeating
    cannot do anything twice, and 409 up to `conflicts` extra times."""

    server_errors: bool
    conflicts: int = 0


_READ = _Retry(server_errors=True)
_WRITE = _Retry(server_errors=False)
_PATCH = _Retry(server_errors=False, conflicts=1)


class KubeApi:
    """Async facade over the sync client, one per cluster identity.

    async with KubeApi.from_kubeconfig("~/.kube/config") as api:
        pod = await api.get_pod("default", "cowweb")      # {"metadata": {...}, "spec": ...}
        out = await api.exec("default", "cowweb", "app", ["jcmd", "-l"], timeout_s=20)

    `configuration` is adjusted in place: connection pool size, transport-level retries.
    """

    def __init__(
        self,
        configuration: client.Configuration,
        *,
        namespace: str = "default",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        # The pool holds one connection per worker, or threads queue for sockets. urllib3 only
        # retries broken connections; HTTP statuses (429 + Retry-After included) are retried by
        # `_call`, which knows which calls are safe to repeat and keeps within the deadline.
        configuration.connection_pool_maxsize = max_workers
        configuration.retries = urllib3.Retry(
            total=2, connect=2, read=1, redirect=0, status=0, respect_retry_after_header=False
        )
        self._configuration = configuration
        self._client = client.ApiClient(configuration)
        self._client.user_agent = "jdebug"
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kube-api")
        # The generated CoreV1Api module (60k lines) is imported lazily and takes a second or
        # more; load it in the background now rather than during the first exec.
        self._executor.submit(getattr, client, "CoreV1Api")
        self._timeout_s = timeout_s
        self._closed = False
        self.namespace = namespace
        self.server = str(configuration.host)

    # -- configuration ------------------------------------------------------------------------
    @classmethod
    def from_kubeconfig(
        cls,
        path: str | None = None,
        context: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_workers: int = MAX_WORKERS,
    ) -> KubeApi:
        """From a kubeconfig file (`path`, else $KUBECONFIG, else ~/.kube/config); `context`
        picks one other than the current context."""
        where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
        files = os.pathsep.join(str(Path(p).expanduser()) for p in where.split(os.pathsep))
        configuration = client.Configuration()
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=files,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            contexts, current = config.list_kube_config_contexts(files)  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError, ValueError, KeyError, yaml.YAMLError) as exc:
            raise KubeConfigError(f"cannot use kubeconfig {where}: {exc}") from exc
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else None
        namespace = ((chosen or current or {}).get("context") or {}).get("namespace") or "default"
        return cls(configuration, namespace=namespace, timeout_s=timeout_s, max_workers=max_workers)

    @classmethod
    def from_in_cluster(
        cls,
        token_dir: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_workers: int = MAX_WORKERS,
    ) -> KubeApi:
        """From a pod's ServiceAccount files (token, ca.crt, namespace) in `token_dir`; the server
        is KUBERNETES_SERVICE_HOST/PORT unless `host`/`port` say otherwise. The token is re-read
        every minute, so projected tokens that the kubelet rotates keep working."""
        folder = Path(token_dir or SERVICE_ACCOUNT_DIR)
        environ = {
            "KUBERNETES_SERVICE_HOST": host or os.environ.get("KUBERNETES_SERVICE_HOST", ""),
            "KUBERNETES_SERVICE_PORT": str(port or os.environ.get("KUBERNETES_SERVICE_PORT", 443)),
        }
        configuration = client.Configuration()
        loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
            token_filename=str(folder / "token"),
            cert_filename=str(folder / "ca.crt"),
            environ=environ,
        )
        try:
            loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
            namespace_file = folder / "namespace"
            namespace = (
                namespace_file.read_text().strip() if namespace_file.exists() else ""
            ) or "default"
        except (config.ConfigException, OSError) as exc:
            raise KubeConfigError(f"cannot use in-cluster credentials in {folder}: {exc}") from exc
        return cls(configuration, namespace=namespace, timeout_s=timeout_s, max_workers=max_workers)

    @classmethod
    def from_environment(cls, kubeconfig: str | None) -> KubeApi | None:
        """`kubeconfig` if given, else $KUBECONFIG, else in-cluster when running in a pod, else
        None (a developer's ~/.kube/config is never picked up by accident)."""
        if kubeconfig:
            return cls.from_kubeconfig(kubeconfig)
        if os.environ.get("KUBECONFIG"):
            return cls.from_kubeconfig(os.environ["KUBECONFIG"])
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.from_in_cluster()
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> KubeApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- reads --------------------------------------------------------------------------------
    async def server_version(self, *, timeout_s: float | None = None) -> tuple[int, int]:
        """(major, minor), e.g. (1, 31); managed clusters' "31+" minors are read as 31."""
        info = await self._json(
            "GET", "/version", what="read the server version", timeout_s=timeout_s
        )
        version = _parse_version(info)
        if version is None:
            raise KubeError(f"the Kubernetes API reported a version jdebug cannot read: {info}")
        return version

    async def get_namespace(self, name: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        return await self._json(
            "GET",
            "/api/v1/namespaces/{name}",
            params={"name": name},
            what=f"get namespace {name}",
            timeout_s=timeout_s,
        )

    async def get_pod(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        return await self._json(
            "GET",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            params={"namespace": namespace, "name": name},
            what=f"get pod {namespace}/{name}",
            timeout_s=timeout_s,
        )

    async def list_pods(
        self,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        *,
        timeout_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """The pods of `namespace` (None: every namespace) matching the selectors; items lack
        `kind`/`apiVersion`, as in any list the API returns."""
        query = [("labelSelector", label_selector), ("fieldSelector", field_selector)]
        found = await self._json(
            "GET",
            "/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods",
            params={"namespace": namespace} if namespace else None,
            query=[(k, v) for k, v in query if v],
            what=f"list pods in {namespace or 'all namespaces'}",
            timeout_s=timeout_s,
        )
        items = found.get("items") or []
        return [item for item in items if isinstance(item, dict)]

    async def get_deployment(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        return await self._json(
            "GET",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            params={"namespace": namespace, "name": name},
            what=f"get deployment {namespace}/{name}",
            timeout_s=timeout_s,
        )

    async def read_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        tail_lines: int | None = None,
        *,
        timeout_s: float | None = None,
    ) -> str:
        query = [("container", container)]
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        work = functools.partial(
            self._request,
            "GET",
            "/api/v1/namespaces/{namespace}/pods/{name}/log",
            params={"namespace": namespace, "name": pod},
            query=query,
            accept="text/plain, */*",
        )
        data = await self._call(
            f"read the log of {namespace}/{pod}/{container}", work, _READ, timeout_s
        )
        return data.decode("utf-8", "replace")

    async def can_i(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        subresource: str = "",
        name: str = "",
        group: str = "",
        *,
        timeout_s: float | None = None,
    ) -> tuple[bool, str]:
        """Whether our identity may `verb` the resource, from a SelfSubjectAccessReview;
        (allowed, the authorizer's reason or evaluation error, often empty)."""
        attributes = {
            "verb": verb,
            "group": group,
            "resource": resource,
            "subresource": subresource,
            "name": name,
        }
        if namespace:
            attributes["namespace"] = namespace
        review = await self._json(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes},
            },
            # The review creates nothing, so it is as safe to repeat as a GET.
            retry=_READ,
            what=f"ask whether we may {verb} {resource}{'/' + subresource if subresource else ''}",
            timeout_s=timeout_s,
        )
        status = review.get("status") or {}
        reason = str(status.get("reason") or status.get("evaluationError") or "")
        return bool(status.get("allowed")), reason

    # -- writes -------------------------------------------------------------------------------
    async def patch_ephemeral_containers(
        self,
        namespace: str,
        pod: str,
        containers: list[dict[str, Any]],
        *,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Strategic-merge PATCH of `pods/{pod}/ephemeralcontainers`, as `kubectl debug` sends it.
        Pass the full list (existing ones first, then the new one); the list merges by name, so
        existing containers are left alone. Returns the updated Pod."""
        spec: dict[str, Any] = {"ephemeralContainers": containers}
        if len(containers) > 1:
            spec["$setElementOrder/ephemeralContainers"] = [{"name": c["name"]} for c in containers]
        return await self._json(
            "PATCH",
            "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers",
            params={"namespace": namespace, "name": pod},
            body={"spec": spec},
            content_type=STRATEGIC_MERGE,
            retry=_PATCH,
            what=f"add an ephemeral container to {namespace}/{pod}",
            timeout_s=timeout_s,
        )

    async def create_pod(
        self, namespace: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        name = (body.get("metadata") or {}).get("name") or (body.get("metadata") or {}).get(
            "generateName", "?"
        )
        return await self._json(
            "POST",
            "/api/v1/namespaces/{namespace}/pods",
            params={"namespace": namespace},
            body=body,
            retry=_WRITE,
            what=f"create pod {namespace}/{name}",
            timeout_s=timeout_s,
        )

    async def delete_pod(
        self,
        namespace: str,
        name: str,
        grace_period_seconds: int = 0,
        *,
        timeout_s: float | None = None,
    ) -> bool:
        """Delete the pod; False when it was already gone."""
        work = functools.partial(
            self._request,
            "DELETE",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            params={"namespace": namespace, "name": name},
            query=[("gracePeriodSeconds", str(grace_period_seconds))],
        )
        try:
            await self._call(f"delete pod {namespace}/{name}", work, _WRITE, timeout_s)
        except KubeNotFound as exc:
            if exc.is_missing_resource:
                raise
            return False
        return True

    async def exec(
        self, namespace: str, pod: str, container: str, argv: list[str], timeout_s: float = 60
    ) -> ExecResult:
        """Run `argv` (never through a shell) in the container over the websocket `pods/exec`,
        and wait up to `timeout_s` for it to end. A non-zero exit is a result, not an error.
        The process is not killed at the deadline (Kubernetes cannot): give it its own."""
        what = f"run {argv[0] if argv else '?'} in {namespace}/{pod}/{container}"
        work = functools.partial(self._exec_in_thread, what, namespace, pod, container, list(argv))
        return await self._call(what, work, _WRITE, timeout_s)

    # -- plumbing -----------------------------------------------------------------------------
    async def _json(
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
        retry: _Retry = _READ,
    ) -> dict[str, Any]:
        work = functools.partial(
            self._request,
            method,
            path,
            params=params,
            query=query,
            body=body,
            content_type=content_type,
        )
        data = await self._call(what, work, retry, timeout_s)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise KubeError(f"the Kubernetes API answered {what} with something other than JSON")
        return parsed

    async def _call(
        self, what: str, work: Callable[[float], T], retry: _Retry, timeout_s: float | None
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
                            raise
                        conflicts += isinstance(exc, KubeConflict)
                        await asyncio.sleep(delay)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise _too_slow(what, seconds) from exc

    def _translated(self, work: Callable[[float], T], ends: float) -> T:
        """Run `work` with the seconds left, turning transport failures into KubeErrors."""
        try:
            return work(max(ends - time.monotonic(), 0.05))
        except client.ApiException as exc:
            raise self._from_api_exception(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError, websocket.WebSocketException) as exc:
            raise self._unreachable(exc) from exc

    def _request(
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
        response = self._client.call_api(
            *request, _request_timeout=(min(_CONNECT_TIMEOUT_S, seconds), seconds)
        )
        data = cast(bytes, response.read())  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            raise error_from_status(
                response.status, data, dict(response.headers), str(response.reason or "")
            )
        return data

    def _exec_in_thread(
        self, what: str, namespace: str, pod: str, container: str, argv: list[str], seconds: float
    ) -> ExecResult:
        ends = time.monotonic() + seconds
        # stream() swaps `call_api` on the ApiClient it is handed while it connects, so each exec
        # gets its own ApiClient instead of racing the calls sharing ours.
        api_client = client.ApiClient(self._configuration)
        try:
            # websocket-client connects without a timeout (the client passes none): a server
            # that accepts TCP but never answers the upgrade keeps this thread until the OS gives
            # up, though the caller still gets DeadlineExceeded on time.
            ws = stream(
                client.CoreV1Api(api_client).connect_get_namespaced_pod_exec,
                pod,
                namespace,
                container=container,
                command=argv,
                stdin=False,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
            )
        finally:
            api_client.close()  # type: ignore[no-untyped-call]
        try:
            ws.sock.settimeout(max(ends - time.monotonic(), 0.05))
            ws.run_forever(timeout=max(ends - time.monotonic(), 0.05))
            if ws.is_open():
                raise _too_slow(what, seconds)
            stdout = str(ws.read_channel(_STDOUT))
            stderr = str(ws.read_channel(_STDERR))
            status = str(ws.read_channel(_STATUS))
        finally:
            ws.close()
            # After the server's close frame websocket-client thinks the socket is closed and
            # leaves it open; shutdown() really closes it (and is a no-op when already done).
            ws.sock.shutdown()
        return ExecResult(stdout, stderr, _exit_code(status, f"{namespace}/{pod}/{container}"))

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


def _too_slow(what: str, seconds: float) -> DeadlineExceeded:
    return DeadlineExceeded(f"the Kubernetes call `{what}` took longer than {seconds:g} s")


def _retry_delay(exc: KubeError, retry: _Retry, tries: int, conflicts: int) -> float | None:
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


def _exit_code(status_text: str, where: str) -> int:
    """The exit code from the exec status channel: `Success`, or `NonZeroExitCode` with the code
    in `details.causes[reason=ExitCode]`; any other Failure is the server's error."""
    if not status_text:
        raise KubeUnreachable(f"the exec stream for {where} closed without reporting an exit code")
    try:
        status = json.loads(status_text)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise KubeError(f"the exec stream for {where} sent an unreadable status: {status_text!r}")
    if status.get("status") == "Success":
        return 0
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    code = status.get("code")
    raise error_from_status(code if isinstance(code, int) else 0, status_text)


def _parse_version(info: dict[str, Any]) -> tuple[int, int] | None:
    major = re.match(r"\d+", str(info.get("major") or ""))
    minor = re.match(r"\d+", str(info.get("minor") or ""))
    if major and minor:
        return int(major.group()), int(minor.group())
    semver = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion") or ""))
    return (int(semver.group(1)), int(semver.group(2))) if semver else None


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
