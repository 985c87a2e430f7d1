"""The one place jdebug talks to the Kubernetes API: `KubeApi`, async methods over the sync client.

Each call runs in a small thread pool, ends by its deadline (`DeadlineExceeded`), speaks plain JSON
dicts and turns failures into `bot.kube.errors` (see `calls`, `pods`, `exec`, `config`). Reads
retry 429/5xx (3 tries, Retry-After honoured); writes retry only 429, sent before the server acts.
`acting_as(identity)` gives a view whose every call, exec included, impersonates `identity`.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from kubernetes import client

from bot.kube import pods
from bot.kube.calls import DEFAULT_TIMEOUT_S, MAX_WORKERS, READ, WRITE, ApiCaller
from bot.kube.config import (
    SERVICE_ACCOUNT_DIR,
    ClusterConfig,
    load_from_environment,
    load_in_cluster,
    load_kubeconfig,
)
from bot.kube.errors import KubeError
from bot.kube.exec import (
    ExecResult,
    SpooledResult,
    attach_in_thread,
    exec_in_thread,
    exec_spooled_in_thread,
)
from bot.model.identity import KubeIdentity

__all__ = ["ExecResult", "KubeApi"]

_R = TypeVar("_R")
_LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"


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
        self._calls = ApiCaller(configuration, timeout_s=timeout_s, max_workers=max_workers)
        self._configuration = configuration
        self._closed = False
        self.namespace = namespace
        self.server = self._calls.server
        # Who the cluster judges: None is the bot's own credentials.
        self.identity: KubeIdentity | None = None

    def acting_as(self, identity: KubeIdentity) -> KubeApi:
        """A view on the same connections that impersonates `identity` on every call, the exec
        websocket included; closing it closes nothing (the bot's own KubeApi owns them)."""
        view = copy.copy(self)
        view._calls = self._calls.acting_as(identity)
        view.identity = identity
        return view

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
        return cls._from(load_kubeconfig(path, context), timeout_s, max_workers)

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
        loaded = load_in_cluster(Path(token_dir or SERVICE_ACCOUNT_DIR), host, port)
        return cls._from(loaded, timeout_s, max_workers)

    @classmethod
    def from_environment(cls, kubeconfig: str | None) -> KubeApi | None:
        """`kubeconfig` if given, else $KUBECONFIG, else in-cluster when running in a pod, else
        None (a developer's ~/.kube/config is never picked up by accident)."""
        loaded = load_from_environment(kubeconfig, SERVICE_ACCOUNT_DIR)
        return None if loaded is None else cls._from(loaded, DEFAULT_TIMEOUT_S, MAX_WORKERS)

    @classmethod
    def _from(cls, loaded: ClusterConfig, timeout_s: float, max_workers: int) -> KubeApi:
        return cls(
            loaded.configuration,
            namespace=loaded.namespace,
            timeout_s=timeout_s,
            max_workers=max_workers,
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._calls.close()

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
        info = await self._calls.json(
            "GET", "/version", what="read the server version", timeout_s=timeout_s
        )
        version = _parse_version(info)
        if version is None:
            raise KubeError(f"the Kubernetes API reported a version jdebug cannot read: {info}")
        return version

    async def get_namespace(self, name: str, *, timeout_s: float | None = None) -> dict[str, Any]:
        return await self._calls.json(
            "GET",
            "/api/v1/namespaces/{name}",
            params={"name": name},
            what=f"get namespace {name}",
            timeout_s=timeout_s,
        )

    async def get_pod(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        return await pods.get_pod(self._calls, namespace, name, timeout_s)

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
        return await pods.list_pods(
            self._calls, namespace, label_selector, field_selector, timeout_s
        )

    async def get_deployment(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        return await self._calls.json(
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
        return await pods.read_log(self._calls, namespace, pod, container, tail_lines, timeout_s)

    async def get_lease(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """A `coordination.k8s.io/v1` Lease; `KubeNotFound` when there is none yet."""
        return await self._calls.json(
            "GET",
            _LEASE_PATH,
            params={"namespace": namespace, "name": name},
            what=f"get lease {namespace}/{name}",
            timeout_s=timeout_s,
        )

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
        review = await self._calls.json(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes},
            },
            # The review creates nothing, so it is as safe to repeat as a GET.
            retry=READ,
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
        return await pods.patch_ephemeral_containers(
            self._calls, namespace, pod, containers, timeout_s
        )

    async def create_pod(
        self, namespace: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        return await pods.create_pod(self._calls, namespace, body, timeout_s)

    async def delete_pod(
        self,
        namespace: str,
        name: str,
        grace_period_seconds: int = 0,
        *,
        timeout_s: float | None = None,
    ) -> bool:
        """Delete the pod; False when it was already gone."""
        return await pods.delete_pod(self._calls, namespace, name, grace_period_seconds, timeout_s)

    async def create_lease(
        self, namespace: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POST a Lease; `KubeConflict` (AlreadyExists) when another writer created it first."""
        name = str((body.get("metadata") or {}).get("name") or "?")
        return await self._calls.json(
            "POST",
            "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
            params={"namespace": namespace},
            body=body,
            retry=WRITE,
            what=f"create lease {namespace}/{name}",
            timeout_s=timeout_s,
        )

    async def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """PUT the whole Lease. `body.metadata.resourceVersion` must be the one last read: if
        anyone wrote in between the server answers 409 (`KubeConflict`), which is never retried
        here, since leader election must learn it lost the round. Returns the stored Lease."""
        return await self._calls.json(
            "PUT",
            _LEASE_PATH,
            params={"namespace": namespace, "name": name},
            body=body,
            retry=WRITE,
            what=f"update lease {namespace}/{name}",
            timeout_s=timeout_s,
        )

    async def exec(
        self, namespace: str, pod: str, container: str, argv: list[str], timeout_s: float = 60
    ) -> ExecResult:
        """Run `argv` (never through a shell) in the container over the websocket `pods/exec`,
        and wait up to `timeout_s` for it to end. A non-zero exit is a result, not an error.
        The process is not killed at the deadline (Kubernetes cannot): give it its own."""
        return await self._exec(exec_in_thread, namespace, pod, container, argv, timeout_s)

    async def exec_spooled(
        self, namespace: str, pod: str, container: str, argv: list[str], timeout_s: float = 60
    ) -> SpooledResult:
        """`exec`, with stdout going to a Spool (which the caller closes) as it arrives."""
        return await self._exec(exec_spooled_in_thread, namespace, pod, container, argv, timeout_s)

    async def _exec(
        self,
        run: Callable[..., _R],
        namespace: str,
        pod: str,
        container: str,
        argv: list[str],
        timeout_s: float,
    ) -> _R:
        what = f"run {argv[0] if argv else '?'} in {namespace}/{pod}/{container}"
        work = functools.partial(
            run,
            self._configuration,
            what,
            namespace,
            pod,
            container,
            list(argv),
            identity=self.identity,
        )
        return await self._calls.call(what, work, WRITE, timeout_s)

    async def attach(
        self,
        namespace: str,
        pod: str,
        container: str,
        stdin: bytes,
        timeout_s: float = 60,
    ) -> SpooledResult:
        """Attach to a running container (created with `stdin: true`) over `pods/attach`,
        send it `stdin`, and collect its output until it exits, for up to `timeout_s`; stdout
        goes to a Spool (which the caller closes) as it arrives."""
        what = f"attach to {namespace}/{pod}/{container}"
        work = functools.partial(
            attach_in_thread,
            self._configuration,
            what,
            namespace,
            pod,
            container,
            stdin,
            identity=self.identity,
        )
        return await self._calls.call(what, work, WRITE, timeout_s)


def _parse_version(info: dict[str, Any]) -> tuple[int, int] | None:
    major = re.match(r"\d+", str(info.get("major") or ""))
    minor = re.match(r"\d+", str(info.get("minor") or ""))
    if major and minor:
        return int(major.group()), int(minor.group())
    semver = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion") or ""))
    return (int(semver.group(1)), int(semver.group(2))) if semver else None
