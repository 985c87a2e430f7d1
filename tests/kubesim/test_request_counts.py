"""Request accounting: kubesim counts what it serves per User-Agent and per verb, resource and
subresource, at GET /kubesim/requests (admin only), reset by DELETE, and from Python."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubesim import KubeSim
from kubesim.apiserver.accounting import RequestCounts
from tests.kubesim.conftest import MANIFESTS, all_running, core, kubectl, raw

PYTHON_CLIENT = "OpenAPI-Generator/37.0.2/python"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        yield all_running(running, "cowweb", "other")


@pytest.fixture
def fresh(sim: KubeSim) -> KubeSim:
    assert raw(sim, "DELETE", "/kubesim/requests")[0] == 200
    return sim


def served(sim: KubeSim) -> RequestCounts:
    status, body = raw(sim, "GET", "/kubesim/requests")
    assert status == 200, body
    return RequestCounts.from_json(body)


def test_the_official_client_is_counted_per_verb_and_subresource(fresh: KubeSim) -> None:
    api = core(fresh)
    api.read_namespaced_pod("cowweb", "default")
    api.read_namespaced_pod("other", "default")
    api.list_namespaced_pod("default")
    api.read_namespaced_pod_log("other", "default")
    counts = served(fresh)
    assert counts.by_request() == {"get pods": 2, "list pods": 1, "get pods/log": 1}
    assert counts.by_user_agent() == {PYTHON_CLIENT: 4}
    assert counts.of("get", "pods", user_agent=PYTHON_CLIENT) == 2
    assert counts.total == 4


def test_kubectl_is_told_apart_by_its_user_agent_with_its_discovery(fresh: KubeSim) -> None:
    """kubectl reads discovery before it lists (this machine's kubectl is a dispatcher that
    asks /version under its own User-Agent first, then runs the matching kubectl)."""
    kubectl(fresh, "get", "pods", "-n", "default", check=True)
    counts = served(fresh)
    (agent,) = [a for a in counts.by_user_agent() if a.startswith("kubectl/v1.")]
    assert counts.of("list", "pods", user_agent=agent) == 1
    assert counts.of("list", "pods") == 1
    assert counts.by_request()["get /api"] == 1


def test_refused_requests_count_too(fresh: KubeSim) -> None:
    status, _ = raw(fresh, "GET", "/api/v1/namespaces/default/secrets", identity="default/reader")
    assert status == 403
    assert served(fresh).of("list", "secrets") == 1


def test_reset_starts_again_from_zero_and_reading_is_not_counted(fresh: KubeSim) -> None:
    core(fresh).read_namespaced_pod("cowweb", "default")
    assert served(fresh).total == 1
    assert served(fresh).total == 1
    fresh.reset_request_counts()
    assert fresh.request_counts().total == 0


def test_only_the_admin_may_read_the_counts(sim: KubeSim) -> None:
    status, body = raw(sim, "GET", "/kubesim/requests", identity="default/reader")
    assert status == 403
    assert body["message"] == (
        'forbidden: User "system:serviceaccount:default:reader" cannot get path "/kubesim/requests"'
    )
    assert raw(sim, "GET", "/kubesim/requests", identity="")[0] == 401
