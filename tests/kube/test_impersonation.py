"""`KubeApi.acting_as` against kubesim: every REST call and the exec websocket carry the
impersonation headers, groups as separate header lines, so the cluster judges the person and
not the bot; the bot's own API is untouched by its views."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import structlog

from bot.kube.api import KubeApi
from bot.kube.backend import KubeBackend
from bot.kube.config import load_kubeconfig
from bot.kube.errors import IMPERSONATE_FIX, KubeForbidden
from bot.model.identity import KubeIdentity
from kubesim import KubeSim
from tests.kubesim.conftest import core, needs_root, pod_running

pytestmark = needs_root
WORLD = Path(__file__).parents[1] / "kubesim" / "manifests" / "impersonation.yaml"
ALICE = KubeIdentity("alice@example.com")
BOB = KubeIdentity("bob@example.com")


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    """jdebug's ServiceAccount may impersonate alice, bob and the groups debuggers and
    auditors; alice may exec in default, bob may only read pods, debuggers may do all."""
    with KubeSim(manifests=[WORLD]) as running:
        pod_running(core(running), "cowweb")
        yield running


@pytest_asyncio.fixture
async def bot_api(sim: KubeSim) -> AsyncIterator[KubeApi]:
    async with KubeApi.from_kubeconfig(str(sim.kubeconfig("jdebug/jdebug"))) as api:
        yield api


async def test_exec_websocket_runs_as_the_impersonated_user(bot_api: KubeApi) -> None:
    with structlog.testing.capture_logs() as logs:
        result = await bot_api.acting_as(ALICE).exec("default", "cowweb", "cowweb", ["id", "-u"])
        # kubesim logs a websocket request when its handler returns, which may be just
        # after the client has read the exit status.
        for _ in range(100):
            execs = [r for r in logs if r.get("event") == "request" and "/exec?" in r["path"]]
            if execs:
                break
            await asyncio.sleep(0.05)
    assert (result.exit_code, result.stdout.strip()) == (0, "0")
    assert [r["impersonated"] for r in execs] == ["alice@example.com"]
    assert execs[0]["user"] == "system:serviceaccount:jdebug:jdebug"


async def test_exec_as_someone_without_the_right_is_refused_naming_them(bot_api: KubeApi) -> None:
    with pytest.raises(KubeForbidden) as refused:
        await bot_api.acting_as(BOB).exec("default", "cowweb", "cowweb", ["true"])
    assert 'User "bob@example.com" cannot get resource "pods/exec"' in refused.value.message
    with pytest.raises(KubeForbidden) as own:
        await bot_api.exec("default", "cowweb", "cowweb", ["true"])
    assert 'User "system:serviceaccount:jdebug:jdebug"' in own.value.message


async def test_exec_nonzero_exit_and_output_come_back_through_the_own_websocket(
    bot_api: KubeApi,
) -> None:
    result = await bot_api.acting_as(ALICE).exec(
        "default", "cowweb", "cowweb", ["sh", "-c", "echo out; echo err >&2; exit 3"]
    )
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 3)


async def test_each_group_is_its_own_header_line(bot_api: KubeApi) -> None:
    # Only `debuggers` grants the patch; sent as one "auditors, debuggers" line, the server
    # would see a single unknown group and refuse to impersonate it.
    both = KubeIdentity("bob@example.com", ("auditors", "debuggers"))
    allowed, _ = await bot_api.acting_as(both).can_i(
        "patch", "pods", "default", subresource="ephemeralcontainers"
    )
    assert allowed
    alone, _ = await bot_api.acting_as(BOB).can_i(
        "patch", "pods", "default", subresource="ephemeralcontainers"
    )
    assert not alone


async def test_someone_the_bot_may_not_impersonate_gets_the_servers_refusal_and_the_fix(
    bot_api: KubeApi,
) -> None:
    with pytest.raises(KubeForbidden) as refused:
        await bot_api.acting_as(KubeIdentity("carol@example.com")).get_pod("default", "cowweb")
    assert refused.value.message == (
        'users "carol@example.com" is forbidden: User "system:serviceaccount:jdebug:jdebug" '
        'cannot impersonate resource "users" in API group "" at the cluster scope'
    )
    assert refused.value.fix == IMPERSONATE_FIX


async def test_closing_a_view_leaves_the_bots_api_working(bot_api: KubeApi) -> None:
    view = bot_api.acting_as(ALICE)
    await view.close()
    assert (await bot_api.acting_as(BOB).get_pod("default", "cowweb"))["metadata"]["name"]
    assert bot_api.identity is None and view.identity == ALICE


async def test_backends_and_probe_answers_are_kept_per_identity(bot_api: KubeApi) -> None:
    backend = KubeBackend(bot_api)
    alice, bob = backend.acting_as(ALICE), backend.acting_as(BOB)
    assert backend.acting_as(ALICE) is alice and alice is not bob
    assert (await alice.ctx.probe.can("create", "pods", "default", "exec")).allowed
    assert not (await bob.ctx.probe.can("create", "pods", "default", "exec")).allowed
    assert not (await backend.ctx.probe.can("create", "pods", "default", "exec")).allowed
    missing = await bob.ctx.probe.can_all("default", ("create", "pods", "exec"))
    assert missing == 'create pods/exec in namespace default as Kubernetes user "bob@example.com"'


async def tunnel(
    seen: list[str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A minimal HTTP CONNECT proxy (RFC 9110 §9.3.6): note the target, then relay bytes."""
    target = (await reader.readline()).decode().split()[1]
    seen.append(target)
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    host, port = target.rsplit(":", 1)
    up_reader, up_writer = await asyncio.open_connection(host, int(port))
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


async def test_impersonated_exec_goes_through_the_kubeconfigs_proxy(sim: KubeSim) -> None:
    seen: list[str] = []
    proxy = await asyncio.start_server(lambda r, w: tunnel(seen, r, w), "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    configuration = load_kubeconfig(str(sim.kubeconfig("jdebug/jdebug"))).configuration
    configuration.proxy = f"http://127.0.0.1:{port}"
    try:
        async with KubeApi(configuration) as api:
            result = await api.acting_as(ALICE).exec("default", "cowweb", "cowweb", ["id", "-u"])
    finally:
        proxy.close()
    assert (result.exit_code, result.stdout.strip()) == (0, "0")
    assert seen and all(t.endswith(f":{sim.url.rsplit(':', 1)[1]}") for t in seen)
