"""`bot.kube.api.KubeApi` against a real kubesim (pods are real processes) and, for retries and
broken networks, tiny fake API servers that answer with Kubernetes `Status` bodies.

Every error class is produced by a real server response, never constructed by hand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

import bot.kube.api as api_module
from bot.kube.api import KubeApi
from bot.kube.errors import (
    KubeBadRequest,
    KubeConfigError,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeServerError,
    KubeTooManyRequests,
    KubeUnauthorized,
    KubeUnreachable,
    error_from_status,
)
from bot.model.errors import DeadlineExceeded, JdebugError
from kubesim import KubeSim
from kubesim.tls import make_certs

MANIFESTS = Path(__file__).parent / "manifests"
needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="kubesim runs pods as processes in Linux namespaces, which needs root",
)
BUSYBOX = "jdebug.local/busybox"


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    """One simulator for the module: pods cowweb/app and other/main, namespace `restricted`,
    ServiceAccounts `jdebug` (get/list pods, patch cowweb's ephemeralcontainers) and `nobody`."""
    with KubeSim(manifests=[MANIFESTS / "api.yaml"]) as running:
        yield running


@pytest.fixture
async def admin(sim: KubeSim) -> AsyncIterator[KubeApi]:
    async with KubeApi.from_kubeconfig(str(sim.kubeconfig("admin"))) as api:
        yield api


@pytest.fixture
async def jdebug_sa(sim: KubeSim) -> AsyncIterator[KubeApi]:
    async with KubeApi.from_kubeconfig(str(sim.kubeconfig("default/jdebug"))) as api:
        yield api


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if value := await check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {timeout}s: {check}")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def write_kubeconfig(path: Path, server: str, token: str = "t", ca_pem: bytes | None = None) -> str:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def busybox_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"made-by": "test-api"}},
        "spec": {"containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "600"]}]},
    }


# -- configuration --------------------------------------------------------------------------------
@needs_root
async def test_kubeconfig_reaches_the_server_with_its_context_namespace(sim: KubeSim) -> None:
    async with KubeApi.from_kubeconfig(str(sim.kubeconfig("default/jdebug"))) as api:
        assert api.namespace == "default"
        assert api.server == sim.url
        assert await api.server_version() == (1, 31)  # kubesim's default version
        assert [p["metadata"]["name"] for p in await api.list_pods("default", "app=cowweb")] == [
            "cowweb"
        ]


@needs_root
async def test_in_cluster_files_reach_the_server_as_that_service_account(
    sim: KubeSim, tmp_path: Path
) -> None:
    folder = sim.in_cluster_files(tmp_path / "sa", "default", "jdebug")
    assert {p.name for p in folder.iterdir()} == {"token", "ca.crt", "namespace"}
    async with KubeApi.from_in_cluster(str(folder), host="127.0.0.1", port=sim.port) as api:
        assert api.namespace == "default"
        assert (await api.get_pod("default", "cowweb"))["metadata"]["name"] == "cowweb"
        # The Role grants pods only: reading a namespace proves the token's identity is used.
        with pytest.raises(KubeForbidden) as denied:
            await api.get_namespace("restricted")
        assert 'User "system:serviceaccount:default:jdebug" cannot get resource "namespaces"' in (
            denied.value.message
        )


@needs_root
async def test_environment_prefers_argument_then_kubeconfig_env_then_in_cluster(
    sim: KubeSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert KubeApi.from_environment(None) is None

    async def may_read_namespaces(api: KubeApi | None) -> bool:
        assert api is not None
        async with api:
            try:
                await api.get_namespace("restricted")
            except KubeForbidden:
                return False
            return True

    monkeypatch.setenv("KUBECONFIG", str(sim.kubeconfig("admin")))
    assert await may_read_namespaces(KubeApi.from_environment(None))
    assert not await may_read_namespaces(
        KubeApi.from_environment(str(sim.kubeconfig("default/jdebug")))
    )

    monkeypatch.delenv("KUBECONFIG")
    folder = sim.in_cluster_files(tmp_path / "sa", "default", "nobody")
    monkeypatch.setattr(api_module, "SERVICE_ACCOUNT_DIR", str(folder))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(sim.port))
    in_cluster = KubeApi.from_environment(None)
    assert in_cluster is not None and in_cluster.server == sim.url
    assert not await may_read_namespaces(in_cluster)


def test_missing_kubeconfig_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError) as caught:
        KubeApi.from_kubeconfig(str(tmp_path / "nope.yaml"))
    assert str(tmp_path / "nope.yaml") in caught.value.message


def test_named_context_brings_its_namespace_and_unknown_context_is_a_config_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kc"
    write_kubeconfig(path, "https://127.0.0.1:1")
    doc = yaml.safe_load(path.read_text())
    doc["contexts"].append(
        {"name": "prod", "context": {"cluster": "c", "user": "u", "namespace": "cows"}}
    )
    path.write_text(yaml.safe_dump(doc))
    assert KubeApi.from_kubeconfig(str(path)).namespace == "default"
    assert KubeApi.from_kubeconfig(str(path), context="prod").namespace == "cows"
    with pytest.raises(KubeConfigError):
        KubeApi.from_kubeconfig(str(path), context="staging")


# -- reads ----------------------------------------------------------------------------------------
@needs_root
async def test_list_pods_filters_by_label_and_field_selectors(admin: KubeApi) -> None:
    def names(pods: list[dict[str, Any]]) -> list[str]:
        return sorted(p["metadata"]["name"] for p in pods)

    assert names(await admin.list_pods("default", label_selector="tier=web")) == ["cowweb"]
    assert names(await admin.list_pods("default", label_selector="app in (other)")) == ["other"]
    assert names(await admin.list_pods("default", field_selector="metadata.name=other")) == [
        "other"
    ]
    assert names(await admin.list_pods(None, label_selector="app")) == ["cowweb", "other"]
    assert await admin.list_pods("restricted") == []


@needs_root
async def test_pods_come_back_as_camel_case_json_as_the_api_sends_them(admin: KubeApi) -> None:
    pod = await eventually(
        lambda: _running(admin, "default", "cowweb"), timeout=30
    )  # statuses fill in once the kubelet started it
    assert pod["spec"]["containers"][0]["name"] == "app"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]


async def _running(api: KubeApi, namespace: str, name: str) -> dict[str, Any] | None:
    pod = await api.get_pod(namespace, name)
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return pod if statuses and all("running" in s["state"] for s in statuses) else None


@needs_root
async def test_namespace_labels_are_returned(admin: KubeApi) -> None:
    labels = (await admin.get_namespace("restricted"))["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["team"] == "cows"


@needs_root
async def test_read_log_returns_the_containers_output_and_its_tail(admin: KubeApi) -> None:
    await eventually(lambda: _log_has(admin, "second"))
    assert await admin.read_log("default", "other", "main") == "first\nsecond\n"
    assert await admin.read_log("default", "other", "main", tail_lines=1) == "second\n"


async def _log_has(api: KubeApi, text: str) -> bool:
    return text in await api.read_log("default", "other", "main")


# -- ephemeral containers -------------------------------------------------------------------------
@needs_root
async def test_ephemeral_container_runs_and_its_log_holds_its_output(admin: KubeApi) -> None:
    name = unique("dbg")
    container = {
        "name": name,
        "image": BUSYBOX,
        "command": ["sh", "-c", "echo ephemeral says $((6 * 7))"],
        "targetContainerName": "app",
    }
    pod = await admin.patch_ephemeral_containers("default", "cowweb", [container])
    assert name in [c["name"] for c in pod["spec"]["ephemeralContainers"]]

    state = await eventually(lambda: _ephemeral_state(admin, "cowweb", name, "terminated"))
    assert state["exitCode"] == 0
    assert await admin.read_log("default", "cowweb", name) == "ephemeral says 42\n"


async def _ephemeral_state(api: KubeApi, pod: str, name: str, state: str) -> Any:
    found = (await api.get_pod("default", pod)).get("status", {})
    for status in found.get("ephemeralContainerStatuses") or []:
        if status["name"] == name and state in status["state"]:
            return status["state"][state]
    return None


@needs_root
async def test_full_list_patch_keeps_existing_and_duplicate_name_is_invalid_with_cause(
    admin: KubeApi,
) -> None:
    first = {"name": unique("dbg"), "image": BUSYBOX, "command": ["true"]}
    second = {"name": unique("dbg"), "image": BUSYBOX, "command": ["true"]}
    await admin.patch_ephemeral_containers("default", "other", [first])
    pod = await admin.patch_ephemeral_containers("default", "other", [first, second])
    # Only this test adds ephemeral containers to `other`.
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == [
        first["name"],
        second["name"],
    ]

    clash = {"name": "main", "image": BUSYBOX, "command": ["true"]}  # the app container's name
    with pytest.raises(KubeInvalid) as caught:
        await admin.patch_ephemeral_containers("default", "other", [first, second, clash])
    error = caught.value
    assert error.status == 422 and error.reason == "Invalid"
    assert error.message.startswith('Pod "other" is invalid: ')
    assert [(c.reason, c.field) for c in error.causes] == [
        ("FieldValueDuplicate", "spec.ephemeralContainers[2].name")
    ]
    assert error.causes[0].message == 'Duplicate value: "main"'


@needs_root
def test_cluster_without_ephemeral_containers_reports_a_missing_resource() -> None:
    async def patch(sim: KubeSim) -> KubeNotFound:
        async with KubeApi.from_kubeconfig(str(sim.kubeconfig("admin"))) as api:
            with pytest.raises(KubeNotFound) as caught:
                await api.patch_ephemeral_containers(
                    "default", "cowweb", [{"name": "dbg", "image": BUSYBOX}]
                )
            return caught.value

    with KubeSim(feature_gates={"EphemeralContainers": False}) as old:
        error = asyncio.run(patch(old))
    assert error.is_missing_resource
    assert error.message == "the server could not find the requested resource"


@needs_root
async def test_deployment_is_read_from_apps_v1_and_a_missing_one_is_not_found(
    admin: KubeApi,
) -> None:
    deployment = await admin.get_deployment("default", "herd")
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "herd"}
    with pytest.raises(KubeNotFound) as caught:
        await admin.get_deployment("default", "nope")
    assert caught.value.name == "nope" and not caught.value.is_missing_resource


# -- exec -----------------------------------------------------------------------------------------
@needs_root
async def test_exec_returns_stdout_stderr_and_the_real_exit_code(admin: KubeApi) -> None:
    result = await admin.exec(
        "default", "cowweb", "app", ["sh", "-c", "echo out; echo err >&2; exit 3"]
    )
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 3)
    ok = await admin.exec("default", "cowweb", "app", ["true"])
    assert ok.exit_code == 0 and ok.stdout == ""


@needs_root
async def test_exec_passes_argv_without_a_shell(admin: KubeApi) -> None:
    result = await admin.exec("default", "cowweb", "app", ["echo", "a  b", "$HOME", ";", "id"])
    assert result.stdout == "a  b $HOME ; id\n"


@needs_root
async def test_exec_past_its_deadline_raises_deadline_exceeded(admin: KubeApi) -> None:
    # The code's own 0.5 s deadline ends it (named in the error), not the 5 s sleep.
    with pytest.raises(DeadlineExceeded) as caught:
        await admin.exec("default", "cowweb", "app", ["sleep", "5"], timeout_s=0.5)
    assert isinstance(caught.value, JdebugError) and "0.5 s" in caught.value.message


@needs_root
async def test_exec_in_unknown_container_is_a_bad_request(admin: KubeApi) -> None:
    with pytest.raises(KubeBadRequest) as caught:
        await admin.exec("default", "cowweb", "nope", ["true"])
    assert caught.value.message == "container nope is not valid for pod cowweb"


# -- create, delete -------------------------------------------------------------------------------
@needs_root
async def test_create_then_delete_pod_and_delete_again_says_gone(admin: KubeApi) -> None:
    name = unique("made")
    created = await admin.create_pod("default", busybox_pod(name))
    assert created["metadata"]["name"] == name and created["metadata"]["uid"]
    await eventually(lambda: _running(admin, "default", name))

    assert await admin.delete_pod("default", name) is True

    async def gone() -> bool:
        try:
            await admin.get_pod("default", name)
        except KubeNotFound:
            return True
        return False

    await eventually(gone)
    assert await admin.delete_pod("default", name) is False


@needs_root
async def test_create_existing_pod_is_a_conflict(admin: KubeApi) -> None:
    with pytest.raises(KubeConflict) as caught:
        await admin.create_pod("default", busybox_pod("cowweb"))
    assert caught.value.reason == "AlreadyExists"
    assert caught.value.message == 'pods "cowweb" already exists'


# -- permissions ----------------------------------------------------------------------------------
@needs_root
async def test_can_i_agrees_with_what_the_server_then_does(jdebug_sa: KubeApi) -> None:
    allowed, _ = await jdebug_sa.can_i(
        "patch", "pods", "default", subresource="ephemeralcontainers", name="cowweb"
    )
    denied, _ = await jdebug_sa.can_i(
        "patch", "pods", "default", subresource="ephemeralcontainers", name="other"
    )
    assert (allowed, denied) == (True, False)

    quick = {"name": unique("dbg"), "image": BUSYBOX, "command": ["true"]}
    await jdebug_sa.patch_ephemeral_containers("default", "cowweb", [quick])
    with pytest.raises(KubeForbidden) as caught:
        await jdebug_sa.patch_ephemeral_containers("default", "other", [quick])
    error = caught.value
    assert error.status == 403 and not error.is_pod_security
    assert error.message == (
        'pods "other" is forbidden: User "system:serviceaccount:default:jdebug" cannot patch '
        'resource "pods/ephemeralcontainers" in API group "" in the namespace "default"'
    )


@needs_root
async def test_service_account_without_rules_may_not_list_and_can_i_says_so(
    sim: KubeSim,
) -> None:
    async with KubeApi.from_kubeconfig(str(sim.kubeconfig("default/nobody"))) as nobody:
        assert (await nobody.can_i("list", "pods", "default"))[0] is False
        with pytest.raises(KubeForbidden) as caught:
            await nobody.list_pods("default")
        assert 'cannot list resource "pods"' in caught.value.message
        # The review itself is always allowed: a cluster-wide question gets a real answer.
        assert (await nobody.can_i("get", "namespaces", None))[0] is False


@needs_root
async def test_pod_security_rejection_is_forbidden_and_names_the_checks(admin: KubeApi) -> None:
    with pytest.raises(KubeForbidden) as caught:
        await admin.create_pod("restricted", busybox_pod(unique("loose")))
    error = caught.value
    assert error.is_pod_security
    assert 'violates PodSecurity "restricted:latest"' in error.message
    assert "allowPrivilegeEscalation != false" in error.message


@needs_root
async def test_rejected_token_is_unauthorized(sim: KubeSim, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc", sim.url, "not-a-token", sim.certs.ca_cert.read_bytes())
    async with KubeApi.from_kubeconfig(path) as api:
        with pytest.raises(KubeUnauthorized) as caught:
            await api.get_pod("default", "cowweb")
    assert caught.value.status == 401 and caught.value.reason == "Unauthorized"


# -- not found, bad request -----------------------------------------------------------------------
@needs_root
async def test_missing_pod_is_not_found_with_its_name(admin: KubeApi) -> None:
    with pytest.raises(KubeNotFound) as caught:
        await admin.get_pod("default", "nope")
    assert caught.value.message == 'pods "nope" not found'
    assert caught.value.name == "nope" and not caught.value.is_missing_resource


@needs_root
async def test_log_of_unknown_container_is_a_bad_request(admin: KubeApi) -> None:
    with pytest.raises(KubeBadRequest) as caught:
        await admin.read_log("default", "other", "nope")
    assert caught.value.message == "container nope is not valid for pod other"


# -- broken networks ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_closed_port_is_unreachable_quickly(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{free_port()}"
    async with KubeApi.from_kubeconfig(write_kubeconfig(tmp_path / "kc", server)) as api:
        with pytest.raises(KubeUnreachable) as caught:
            await api.get_pod("default", "cowweb")
        with pytest.raises(KubeUnreachable):
            await api.exec("default", "cowweb", "app", ["true"])
    # "Connection refused" is the kernel's answer, not a timeout: it failed at once.
    assert caught.value.message == f"cannot reach the Kubernetes API server at {server}: " + (
        "Connection refused"
    )


@needs_root
async def test_server_with_an_untrusted_certificate_is_unreachable(
    sim: KubeSim, tmp_path: Path
) -> None:
    stranger = make_certs(tmp_path / "other-ca").ca_cert.read_bytes()
    path = write_kubeconfig(tmp_path / "kc", sim.url, sim.token("admin"), stranger)
    async with KubeApi.from_kubeconfig(path) as api:
        with pytest.raises(KubeUnreachable) as caught:
            await api.get_pod("default", "cowweb")
    assert "TLS" in caught.value.message and "certificate" in caught.value.message


async def test_silent_server_hits_the_deadline_instead_of_hanging(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts TCP (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"
        path = write_kubeconfig(tmp_path / "kc", server)
        async with KubeApi.from_kubeconfig(path, timeout_s=0.5) as api:
            # Each call ends at its own deadline, which the error names: the client's
            # default, then the one given to the call.
            with pytest.raises(DeadlineExceeded) as default:
                await api.get_pod("default", "cowweb")
            with pytest.raises(DeadlineExceeded) as given:
                await api.list_pods("default", timeout_s=0.3)
            assert "0.5 s" in default.value.message and "0.3 s" in given.value.message


# -- retries, against a scripted fake API server --------------------------------------------------
def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A `Status` as in facts/kubernetes.md: kind, apiVersion, status, message, reason, details,
    code."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


TOO_MANY = status_body(429, "TooManyRequests", "Too many requests, please try again later.")
UNAVAILABLE = status_body(503, "ServiceUnavailable", "the server is currently unable to handle it")
CONFLICT = status_body(
    409,
    "Conflict",
    'Operation cannot be fulfilled on pods "cowweb": the object has been modified; please apply '
    "your changes to the latest version and try again",
    name="cowweb",
    kind="pods",
)
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cowweb", "namespace": "default"}}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeApi:
    """Answers each request with the next scripted reply (the last one repeats)."""

    kubeconfig: str
    script: list[Reply] = field(default_factory=list)
    seen: list[tuple[str, str, float]] = field(default_factory=list)

    def answer(self, *replies: Reply) -> None:
        self.script[:] = replies


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeApi]:
    holder: list[FakeApi] = []

    async def handle(request: web.Request) -> web.Response:
        api = holder[0]
        api.seen.append((request.method, request.path, time.monotonic()))
        reply = api.script.pop(0) if len(api.script) > 1 else api.script[0]
        text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        kind = "text/html" if isinstance(reply.body, str) else "application/json"
        return web.Response(
            status=reply.status, text=text, content_type=kind, headers=reply.headers
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(FakeApi(write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")))
    yield holder[0]
    await runner.cleanup()


async def test_read_honours_retry_after_on_429_then_succeeds(fake: FakeApi) -> None:
    fake.answer(Reply(429, TOO_MANY, {"Retry-After": "1"}), Reply(200, POD))
    async with KubeApi.from_kubeconfig(fake.kubeconfig) as api:
        assert (await api.get_pod("default", "cowweb"))["metadata"]["name"] == "cowweb"
    assert len(fake.seen) == 2
    assert fake.seen[1][2] - fake.seen[0][2] >= 0.95


async def test_read_retries_server_errors_up_to_three_tries(fake: FakeApi) -> None:
    fake.answer(Reply(503, UNAVAILABLE), Reply(503, UNAVAILABLE), Reply(200, POD))
    async with KubeApi.from_kubeconfig(fake.kubeconfig) as api:
        assert (await api.get_pod("default", "cowweb"))["kind"] == "Pod"
        assert len(fake.seen) == 3

        fake.seen.clear()
        fake.answer(Reply(503, UNAVAILABLE))
        with pytest.raises(KubeServerError) as caught:
            await api.get_pod("default", "cowweb")
    assert len(fake.seen) == 3
    assert caught.value.kube_message == "the server is currently unable to handle it"
    assert caught.value.message == (
        "the Kubernetes API server failed to get pod default/cowweb 3 times in a row (HTTP 503: "
        "the server is currently unable to handle it); try again in a minute, and if it keeps "
        "failing ask a cluster admin to check the API server"
    )


async def test_writes_retry_429_but_never_a_server_error(fake: FakeApi) -> None:
    async with KubeApi.from_kubeconfig(fake.kubeconfig) as api:
        fake.answer(Reply(500, status_body(500, "InternalError", "etcd timed out")))
        with pytest.raises(KubeServerError):
            await api.create_pod("default", POD)
        assert [m for m, _, _ in fake.seen] == ["POST"]

        fake.seen.clear()
        fake.answer(Reply(429, TOO_MANY, {"Retry-After": "0"}), Reply(201, POD))
        assert (await api.create_pod("default", POD))["metadata"]["name"] == "cowweb"
        assert len(fake.seen) == 2


async def test_ephemeral_patch_retries_one_conflict(fake: FakeApi) -> None:
    container = {"name": "dbg", "image": BUSYBOX}
    async with KubeApi.from_kubeconfig(fake.kubeconfig) as api:
        fake.answer(Reply(409, CONFLICT), Reply(200, POD))
        assert (await api.patch_ephemeral_containers("default", "cowweb", [container]))["kind"]
        assert [(m, p) for m, p, _ in fake.seen] == [
            ("PATCH", "/api/v1/namespaces/default/pods/cowweb/ephemeralcontainers")
        ] * 2

        fake.seen.clear()
        fake.answer(Reply(409, CONFLICT))
        with pytest.raises(KubeConflict) as caught:
            await api.patch_ephemeral_containers("default", "cowweb", [container])
        assert len(fake.seen) == 2 and caught.value.name == "cowweb"


async def test_retry_after_beyond_the_deadline_gives_up_at_once(fake: FakeApi) -> None:
    fake.answer(Reply(429, TOO_MANY, {"Retry-After": "20"}))
    async with KubeApi.from_kubeconfig(fake.kubeconfig, timeout_s=2) as api:
        with pytest.raises(KubeTooManyRequests) as caught:
            await api.list_pods("default")
    # One request and no second: it did not wait 20 s to retry past its 2 s deadline.
    assert len(fake.seen) == 1
    assert caught.value.retry_after == 20


async def test_non_status_body_from_a_proxy_still_maps_by_code(fake: FakeApi) -> None:
    fake.answer(Reply(502, "Bad Gateway\n<html>upstream is down</html>"))
    async with KubeApi.from_kubeconfig(fake.kubeconfig) as api:
        with pytest.raises(KubeServerError) as caught:
            await api.can_i("get", "pods", "default")
    assert caught.value.status == 502 and caught.value.kube_message == "Bad Gateway"
    assert "(HTTP 502: Bad Gateway)" in caught.value.message


async def test_version_with_a_plus_suffix_is_read(fake: FakeApi) -> None:
    fake.answer(Reply(200, {"major": "1", "minor": "29+", "gitVersion": "v1.29.8-eks-a737599"}))
    async with KubeApi.from_kubeconfig(fake.kubeconfig) as api:
        assert await api.server_version() == (1, 29)


# -- the Status parser never raises on garbage ----------------------------------------------------
@given(
    status=st.integers(min_value=0, max_value=599),
    body=st.one_of(
        st.none(),
        st.binary(max_size=200),
        st.text(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["message", "reason", "details", "causes", "code", "name"]),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(json.dumps),
    ),
)
def test_any_status_body_becomes_a_kube_error_with_a_message(status: int, body: Any) -> None:
    error = error_from_status(status, body)
    assert isinstance(error, KubeError) and error.message
