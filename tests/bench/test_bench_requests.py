"""API round trips per diagnosis, by strategy, counted by kubesim (kubesim/apiserver/
accounting.py) while the bot's own `run_request` drives a `KubeBackend` (`make bench`).

For each strategy: a cold diagnosis (a new backend, so its probe asks RBAC and the version
afresh) is the benchmarked round; a warm one (the same backend again) shows what the probe's
cache saves. The baseline, taken in the same run, is the exec strategy's cold diagnosis: the
least a diagnosis can cost (read the pod, run the agent). The goals asserted are the design's:
one debug container per ephemeral request, one node pod created and deleted per node request,
a warm diagnosis cheaper than a cold one, and no strategy cheaper than exec.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.kube.backend import KubeBackend
from bot.session.run import run_request
from kubesim import KubeSim
from kubesim.apiserver.accounting import RequestCounts
from tests.strategies.conftest import (
    RBAC,
    WORLD,
    backend_for,
    needs_root,
    request,
    wait_until_all_running,
)

pytestmark = [needs_root, pytest.mark.bench]
TARGETS = {
    "exec": "version pod=cowweb-jdk ns=apps",  # the app image has a JDK
    "ephemeral": "version pod=jvm-25 ns=apps",
    "node": "version pod=jvm-17 ns=apps",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[WORLD, RBAC]) as running:
        wait_until_all_running(running)
        yield running


def diagnose(sim: KubeSim, strategy: str, backend: KubeBackend | None = None) -> RequestCounts:
    """One diagnosis by `strategy`; the requests it cost."""
    chosen = backend or backend_for(sim, order=(strategy,))
    sim.reset_request_counts()
    result = asyncio.run(run_request(request(TARGETS[strategy]), chosen))
    counts = sim.request_counts()
    assert result.raw.strategy == strategy
    return counts


@pytest.mark.parametrize("strategy", ["exec", "ephemeral", "node"])
def test_bench_api_requests_per_diagnosis(benchmark, sim, strategy):
    baseline = diagnose(sim, "exec").total
    cold: list[RequestCounts] = []

    def once() -> None:
        cold.append(diagnose(sim, strategy))

    benchmark.group = "api-requests-per-diagnosis"
    benchmark.pedantic(once, rounds=3, warmup_rounds=0)
    backend = backend_for(sim, order=(strategy,))
    diagnose(sim, strategy, backend)
    warm = diagnose(sim, strategy, backend)
    totals = [c.total for c in cold]
    figures = {
        "strategy": strategy,
        "requests_cold": totals,
        "requests_warm": warm.total,
        "exec_baseline": baseline,
        "ratio_to_exec": round(max(totals) / baseline, 2),
        "cold_by_request": cold[-1].by_request(),
        "warm_by_request": warm.by_request(),
    }
    benchmark.extra_info.update(figures)
    print(f"\n{strategy}: {figures}")
    for counts in cold:
        if strategy == "ephemeral":
            assert counts.of("patch", "pods", "ephemeralcontainers") == 1
            # The agent's output comes back over the attach stream, not the log.
            assert counts.of("get", "pods", "attach") == 1
            assert counts.of("get", "pods", "log") == 0
        if strategy == "node":
            assert counts.of("create", "pods") == counts.of("delete", "pods") == 1
        if strategy == "exec":
            assert counts.of("create", "pods") == 0
            assert counts.of("patch", "pods", "ephemeralcontainers") == 0
    assert warm.total < min(totals)
    assert min(totals) >= baseline
