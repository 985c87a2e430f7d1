"""kubesim benchmarks (`make bench`): API round trips through the official client, compared with
a bare aiohttp echo endpoint over the same TLS in the same run, and JVM pod start-to-running."""

from __future__ import annotations

import asyncio
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import urllib3
from aiohttp import web

from kubesim import KubeSim
from tests.bench.goals import assert_goal
from tests.kubesim.conftest import MANIFESTS, core, needs_root, pod_running, wait_for

pytestmark = pytest.mark.bench
READ_GOAL_RATIO = 8.0


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        pod_running(core(running), "other")
        yield running


@pytest.fixture(scope="module")
def echo_url(sim: KubeSim) -> Iterator[str]:
    """A bare aiohttp endpoint on the same TLS certificate, run on its own loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, int]:
        async def echo(_: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_get("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sim.certs.cert, sim.certs.key)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        return runner, runner.addresses[0][1]

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield f"https://127.0.0.1:{port}/echo"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def percentiles(call: Callable[[], object], n: int = 200) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def test_api_round_trips_against_bare_aiohttp(
    sim: KubeSim, echo_url: str, benchmark: object
) -> None:
    api = core(sim)
    pool = urllib3.PoolManager(ca_certs=str(sim.certs.ca_cert))
    echo = percentiles(lambda: pool.request("GET", echo_url))
    get_pod = percentiles(lambda: api.read_namespaced_pod("other", "default"))
    log = percentiles(lambda: api.read_namespaced_pod_log("other", "default"))
    counter = iter(range(10_000))
    patch = percentiles(
        lambda: api.patch_namespaced_pod_ephemeralcontainers(
            "cowweb",
            "default",
            {
                "spec": {
                    "ephemeralContainers": [
                        {
                            "name": f"b{next(counter)}",
                            "image": "jdebug.local/busybox",
                            "command": ["true"],
                        }
                    ]
                }
            },
        ),
        n=50,
    )
    for name, (p50, p99) in (
        ("echo", echo),
        ("get pod", get_pod),
        ("read log", log),
        ("patch ephemeral", patch),
    ):
        print(
            f"{name:16s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ratio to echo p50 {p50 / echo[0]:5.1f}x"  # noqa: E501
        )
    benchmark.extra_info.update(
        echo_p50_ms=echo[0],
        get_pod_p50_ms=get_pod[0],
        get_pod_p99_ms=get_pod[1],  # type: ignore[attr-defined]
        log_p50_ms=log[0],
        patch_p50_ms=patch[0],
        get_pod_ratio=get_pod[0] / echo[0],
    )
    benchmark(lambda: api.read_namespaced_pod("other", "default"))  # type: ignore[operator]
    # Reads cost the official client's decoding and a store lookup on top of the same TLS
    # round trip as the bare echo: measured 2.7× to 5.1× on a busy two-core machine, goal ≤ 8×
    # (sub-millisecond latencies swing with the neighbours). A patch of ephemeral
    # containers starts a real process, so it is recorded, not held to a ratio.
    assert_goal(benchmark, "get_pod_p50_ratio_to_echo", get_pod[0] / echo[0], READ_GOAL_RATIO)
    assert_goal(benchmark, "read_log_p50_ratio_to_echo", log[0] / echo[0], READ_GOAL_RATIO)


@needs_root
def test_jvm_pod_start_to_running(sim: KubeSim, benchmark: object) -> None:
    api = core(sim)
    counter = iter(range(1000))

    def start_jvm_pod() -> None:
        name = f"jvm-{next(counter)}"
        api.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "app", "image": "jdebug.local/cowweb:25"}]},
            },
        )
        wait_for(
            lambda: (
                "listening" in api.read_namespaced_pod_log(name, "default")
                if api.read_namespaced_pod(name, "default").status.phase == "Running"
                else False
            )
        )
        api.delete_namespaced_pod(name, "default", grace_period_seconds=0)

    benchmark.pedantic(start_jvm_pod, rounds=5, iterations=1)  # type: ignore[attr-defined]
