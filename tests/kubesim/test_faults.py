"""kubesim's planned faults on the wire, as the official client and a plain HTTP client see
them: Status bodies as apimachinery builds them, Retry-After, APF's plain-text 429, rules that
end after N answers or T seconds, and a pull failure for an image the catalog has."""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator
from urllib.error import HTTPError

import pytest
from kubernetes import client, config

from kubesim import KubeSim
from kubesim.apiserver.requestinfo import RequestInfo
from kubesim.faults import Faults
from kubesim.status import ApiError
from tests.kubesim.conftest import needs_root, wait_for

BUSYBOX = "jdebug.local/busybox:latest"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim() as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_after(sim: KubeSim) -> Iterator[None]:
    yield
    sim.faults.clear()


@pytest.fixture
def core(sim: KubeSim) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))


def raw_get(sim: KubeSim, path: str) -> HTTPError:
    """GET `path` expecting an error answer; the HTTPError carries status, headers and body."""
    context = ssl.create_default_context(cafile=str(sim.certs.ca_cert))
    req = urllib.request.Request(
        sim.url + path, headers={"Authorization": f"Bearer {sim.token('admin')}"}
    )
    with pytest.raises(HTTPError) as caught:
        urllib.request.urlopen(req, context=context, timeout=10)
    return caught.value


def test_500_is_an_internal_error_status_with_its_cause(sim, core):
    sim.faults.add(500, verb="list", resource="pods", message="etcdserver: leader changed")
    with pytest.raises(client.ApiException) as caught:
        core.list_namespaced_pod("default")
    body = json.loads(caught.value.body)
    assert caught.value.status == 500
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == 500
    assert body["reason"] == "InternalError"
    assert body["message"] == "Internal error occurred: etcdserver: leader changed"
    assert body["details"]["causes"] == [{"message": "etcdserver: leader changed"}]


def test_429_status_has_retry_after_in_the_header_and_the_details(sim, core):
    sim.faults.add(429, resource="namespaces", retry_after=3, times=1)
    error = raw_get(sim, "/api/v1/namespaces/default")
    body = json.loads(error.read())
    assert error.code == 429 and error.headers["Retry-After"] == "3"
    assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 3
    assert core.read_namespace("default").metadata.name == "default"  # used up: back to normal


def test_429_status_without_a_message_is_the_watch_caches_asking_for_a_second(sim):
    sim.faults.add(429, resource="namespaces", times=1)
    error = raw_get(sim, "/api/v1/namespaces/default")
    assert error.code == 429 and error.headers["Retry-After"] == "1"
    assert json.loads(error.read()) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "storage is (re)initializing",
        "reason": "TooManyRequests",
        "details": {"retryAfterSeconds": 1},
        "code": 429,
    }


def test_apf_429_is_plain_text_with_retry_after(sim):
    sim.faults.add(429, resource="namespaces", retry_after=1, body="text")
    error = raw_get(sim, "/api/v1/namespaces/default")
    assert error.code == 429 and error.headers["Retry-After"] == "1"
    assert error.headers["Content-Type"].startswith("text/plain")
    assert error.read().decode() == "Too many requests, please try again later.\n"


def test_409_names_the_object_as_a_stale_update_does(sim, core):
    sim.faults.add(409, verb="get", resource="namespaces", name="default", times=1)
    with pytest.raises(client.ApiException) as caught:
        core.read_namespace("default")
    body = json.loads(caught.value.body)
    assert body["reason"] == "Conflict"
    assert body["details"] == {"name": "default", "kind": "namespaces"}
    assert body["message"].startswith('Operation cannot be fulfilled on namespaces "default": ')
    assert "the object has been modified" in body["message"]


def test_rules_match_only_what_they_name_and_the_journal_records_each_request(sim, core):
    sim.faults.add(503, verb="get", resource="namespaces", subresource="", name="kube-system")
    assert core.read_namespace("default").metadata.name == "default"
    with pytest.raises(client.ApiException) as caught:
        core.read_namespace("kube-system")
    assert caught.value.status == 503
    assert [(s.name, s.status) for s in sim.faults.seen(resource="namespaces")] == [
        ("default", 0),
        ("kube-system", 503),
    ]


def test_a_rule_can_let_the_first_matches_through(sim, core):
    sim.faults.add(500, resource="namespaces", after=1, times=1)
    assert core.read_namespace("default").metadata.name == "default"
    with pytest.raises(client.ApiException):
        core.read_namespace("default")
    assert core.read_namespace("default").metadata.name == "default"
    assert [s.status for s in sim.faults.seen(resource="namespaces")] == [0, 500, 0]


def test_a_rule_for_some_seconds_ends_by_itself(sim, core, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(sim.faults, "clock", lambda: now[0])
    sim.faults.add(500, resource="namespaces", seconds=30)
    with pytest.raises(client.ApiException):
        core.read_namespace("default")
    now[0] += 29.9
    with pytest.raises(client.ApiException):
        core.read_namespace("default")
    now[0] += 0.1
    assert core.read_namespace("default").metadata.name == "default"


def test_the_journal_keeps_only_the_latest_requests_and_can_be_emptied():
    faults = Faults(journal_size=3)
    for n in range(5):
        faults.check(RequestInfo("get", "", "v1", "pods", namespace="default", name=f"p{n}"))
    assert [s.name for s in faults.seen()] == ["p2", "p3", "p4"]
    faults.add(500, resource="pods")
    faults.clear_journal()
    assert faults.seen() == []
    with pytest.raises(ApiError):  # the rule outlives the journal
        faults.check(RequestInfo("get", "", "v1", "pods", namespace="default", name="p5"))
    assert [(s.name, s.status) for s in faults.seen()] == [("p5", 500)]


@needs_root
def test_a_planned_pull_failure_shows_as_err_image_pull_then_back_off(sim, core):
    sim.faults.fail_pull(BUSYBOX)
    core.create_namespaced_pod(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "pull-fails"},
            "spec": {"containers": [{"name": "c", "image": BUSYBOX, "command": ["true"]}]},
        },
    )

    def waiting(reason: str) -> dict | None:
        status = core.read_namespaced_pod("pull-fails", "default").status
        state = (status.container_statuses or [None])[0]
        w = state.state.waiting if state is not None else None
        return w if w is not None and w.reason == reason else None

    # containerd's text for Docker Hub's 429 (the registry named as the reference has it).
    refused = (
        'failed to pull and unpack image "jdebug.local/busybox:latest": failed to copy: '
        "httpReadSeeker: failed open: unexpected status code "
        "https://jdebug.local/v2/busybox/manifests/latest: 429 Too Many Requests - Server "
        "message: toomanyrequests: You have reached your pull rate limit. You may increase the "
        "limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
    )
    assert wait_for(lambda: waiting("ErrImagePull"), what="ErrImagePull").message == refused
    assert (
        wait_for(lambda: waiting("ImagePullBackOff"), what="ImagePullBackOff").message
        == f'Back-off pulling image "{BUSYBOX}"'
    )
    failed = core.list_namespaced_event("default", field_selector="involvedObject.name=pull-fails")
    assert f'Failed to pull image "{BUSYBOX}": {refused}' in [e.message for e in failed.items]
    assert sim.process_ids() == set()
    core.delete_namespaced_pod("pull-fails", "default", grace_period_seconds=0)
