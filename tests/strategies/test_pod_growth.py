"""What a request leaves in the pod object: ephemeral containers are never removed and etcd
refuses objects over 1.5 MiB (tests/kubesim/test_object_size.py shows kubesim's limit), so
each request may add at most 1,500 bytes of spec and status, and a pod at the limit gets one
sentence naming the fix instead of the API server's bare 500.

Sizes are measured as kubesim (and etcd) store the pod: its key and its compact JSON, read
through the API."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from kubernetes import client, config

from bot.model.errors import StrategyUnavailable
from bot.session.run import run_request
from kubesim import KubeSim
from tests.strategies.conftest import backend_for, needs_root, request

pytestmark = needs_root

LIMIT = 1_572_864  # etcd's default --max-request-bytes
GROWTH_GOAL = 1_500
REQUESTS = 1_000


def admin(sim: KubeSim) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))


def stored_size(sim: KubeSim, namespace: str, name: str) -> int:
    api = admin(sim)
    pod = api.api_client.sanitize_for_serialization(api.read_namespaced_pod(name, namespace))
    key = f"/registry/pods/{namespace}/{name}"
    return len(key) + len(json.dumps(pod, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    ("pod", "settings"),
    [
        ("jvm-21", {}),  # from the app's own image (the default when it has a shell)
        ("jvm-17", {"debug_image": "ghcr.io/jdebug-dev/jdebug-debug:0.1.0"}),
        ("cowweb-1000", {}),  # a non-root JVM: a longer securityContext
    ],
    ids=["app-image", "debug-image", "non-root"],
)
async def test_each_request_adds_at_most_1500_bytes_so_1000_fit(
    sim: KubeSim, pod: str, settings: dict[str, Any]
) -> None:
    namespace = "apps" if pod != "cowweb-1000" else "locked"
    backend = backend_for(sim, order=("ephemeral",), **settings)
    sizes = [stored_size(sim, namespace, pod)]
    for _ in range(3):
        result = await run_request(request(f"version pod={pod} ns={namespace}"), backend)
        assert result.raw.strategy == "ephemeral"
        sizes.append(stored_size(sim, namespace, pod))

    growth = [after - before for before, after in itertools.pairwise(sizes)]
    print(f"\n{pod}: pod object {sizes[0]} -> {sizes[-1]} bytes, growth per request {growth}")
    assert max(growth) <= GROWTH_GOAL, growth
    # The pod as it is now, plus a thousand more requests each as large as the largest here.
    assert sizes[-1] + REQUESTS * max(growth) < LIMIT


def padded(total: int) -> list[str]:
    """`sh -c 'echo padding'` with `total` bytes of arguments it ignores (Linux takes at most
    128 KiB per argument)."""
    pieces = [100_000] * (total // 100_000) + ([total % 100_000] if total % 100_000 else [])
    return ["sh", "-c", "echo padding", *("x" * n for n in pieces)]


async def test_a_pod_at_etcds_limit_gets_one_sentence_with_the_fix(sim: KubeSim) -> None:
    api = admin(sim)
    room = LIMIT - stored_size(sim, "apps", "jvm-11")
    # Leave less room than one more debug container needs.
    filler = {"name": "padding", "image": "jdebug.local/busybox", "command": padded(room - 600)}
    api.patch_namespaced_pod_ephemeralcontainers(
        "jvm-11", "apps", {"spec": {"ephemeralContainers": [filler]}}
    )

    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("version pod=jvm-11 ns=apps"), backend_for(sim, order=("ephemeral",))
        )

    text = str(excinfo.value)
    assert "the pod object is at etcd's size limit (it holds 1 ephemeral containers" in text
    assert "replace the pod (e.g. kubectl rollout restart) to shed them" in text
    assert "etcdserver" not in text
