"""Pulls as a node does them: a cold pull with the kubelet's Pulling/Pulled Events, a warm node,
imagePullPolicy, unknown references with ErrImagePull then ImagePullBackOff and retries, and
registries that need imagePullSecrets; seen through the official client and kubectl."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch

from kubesim import KubeSim
from kubesim.kubelet.pulls import Backoff, PullModel
from tests.kubesim.conftest import core, kubectl, needs_root, pod_running, wait_for

pytestmark = needs_root
JDK = "eclipse-temurin:25-jdk"
PRIVATE = "registry.private.example/team/cowweb:25"
# Quick enough for a test, slow enough that a 205 MB image takes seconds to arrive.
MODEL = PullModel(bandwidth=100e6, latency=0.2, backoff=1.0, max_backoff=4.0)
# pkg/kubelet/images/image_manager.go (EnsureImageExists), the kubelet's Pulled message.
PULLED = re.compile(
    r'^Successfully pulled image "(?P<ref>[^"]+)" in (?P<took>[0-9.]+m?s) '
    r"\((?P=took) including waiting\)\. Image size: (?P<size>\d+) bytes\.$"
)


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(pulls=MODEL, grace_cap=0.5) as running:
        yield running


def pod(name: str, image: str, policy: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": image, "command": ["sleep", "3600"]}
    if policy:
        container["imagePullPolicy"] = policy
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def listed(api: client.CoreV1Api, name: str) -> list[client.CoreV1Event]:
    found = api.list_namespaced_event("default", field_selector=f"involvedObject.name={name}")
    return sorted(found.items, key=lambda e: e.metadata.name)


def events(api: client.CoreV1Api, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the pod's Events, first recorded first."""
    return [(e.type, e.reason, e.message) for e in listed(api, name)]


def count(api: client.CoreV1Api, name: str, reason: str) -> int:
    """How often the kubelet recorded `reason` (repeats are folded into one Event's count)."""
    return sum(e.count for e in listed(api, name) if e.reason == reason)


def waiting(api: client.CoreV1Api, name: str) -> client.V1ContainerStateWaiting | None:
    statuses = api.read_namespaced_pod(name, "default").status.container_statuses or []
    return statuses[0].state.waiting if statuses else None


def test_a_cold_pull_waits_in_container_creating_and_records_the_kubelets_events(
    sim: KubeSim,
) -> None:
    api = core(sim)
    states: list[str] = []
    stream = watch.Watch()
    api.create_namespaced_pod("default", pod("cold", JDK))
    for event in stream.stream(
        api.list_namespaced_pod, "default", field_selector="metadata.name=cold", timeout_seconds=60
    ):
        found = event["object"].status.container_statuses or []
        state = found[0].state if found else None
        if state is not None:
            states.append(
                "running" if state.running else state.waiting.reason if state.waiting else "?"
            )
        if states and states[-1] == "running":
            stream.stop()
    assert states[0] == "ContainerCreating" and states[-1] == "running", states
    seen = events(api, "cold")
    assert [(t, r) for t, r, _ in seen] == [
        ("Normal", "Pulling"),
        ("Normal", "Pulled"),
        ("Normal", "Created"),
        ("Normal", "Started"),
    ]
    assert seen[0][2] == f'Pulling image "{JDK}"'
    pulled = PULLED.match(seen[1][2])
    assert pulled and pulled["ref"] == JDK and pulled["size"] == "205000000", seen[1][2]
    assert seen[2][2] == "Created container c" and seen[3][2] == "Started container c"


def test_a_warm_node_does_not_pull_again_unless_the_policy_is_always(sim: KubeSim) -> None:
    api = core(sim)
    pod_running(api, "cold")
    api.create_namespaced_pod("default", pod("warm", JDK, "IfNotPresent"))
    api.create_namespaced_pod("default", pod("always", JDK, "Always"))
    pod_running(api, "warm")
    pod_running(api, "always")
    assert events(api, "warm")[0] == (
        "Normal",
        "Pulled",
        f'Container image "{JDK}" already present on machine',
    )
    always = [(r, m) for _, r, m in events(api, "always")]
    assert always[0] == ("Pulling", f'Pulling image "{JDK}"')
    assert always[1][0] == "Pulled" and PULLED.match(always[1][1])


def test_pull_policy_never_fails_as_the_kubelet_does_when_the_image_is_absent(
    sim: KubeSim,
) -> None:
    api = core(sim)
    api.create_namespaced_pod("default", pod("never", "eclipse-temurin:17-jdk", "Never"))
    state = wait_for(
        lambda: (
            waiting(api, "never")
            if (w := waiting(api, "never")) and w.reason == "ErrImageNeverPull"
            else None
        )
    )
    message = 'Container image "eclipse-temurin:17-jdk" is not present with pull policy of Never'
    assert state.message == message
    assert ("Warning", "ErrImageNeverPull", message) in events(api, "never")


@pytest.mark.parametrize(
    ("name", "image", "why"),
    [
        # Docker Hub answers 401 for a repository that does not exist
        # (containerd core/remotes/docker/resolver.go, ErrInvalidAuthorization).
        (
            "nosuch",
            "nosuchimage:1",
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed",
        ),
        # A repository that exists, a tag that does not: the resolver's 404.
        ("notag", "eclipse-temurin:99-jdk", "docker.io/library/eclipse-temurin:99-jdk: not found"),
    ],
)
def test_an_unknown_reference_is_err_image_pull_then_back_off_and_is_retried(
    sim: KubeSim, name: str, image: str, why: str
) -> None:
    api = core(sim)
    api.create_namespaced_pod("default", pod(name, image))
    full = "docker.io/library/" + image
    cri = f'failed to pull and unpack image "{full}": failed to resolve reference "{full}": {why}'

    def reason(wanted: str) -> client.V1ContainerStateWaiting | None:
        found = waiting(api, name)
        return found if found is not None and found.reason == wanted else None

    assert wait_for(lambda: reason("ErrImagePull")).message == cri
    assert (
        wait_for(lambda: reason("ImagePullBackOff")).message == f'Back-off pulling image "{image}"'
    )
    # Retried: the kubelet pulls again once each back-off has passed.
    wait_for(lambda: count(api, name, "Pulling") >= 3, 30, "a third pull")
    seen = events(api, name)
    assert ("Warning", "Failed", f'Failed to pull image "{image}": {cri}') in seen
    assert ("Warning", "Failed", "Error: ErrImagePull") in seen
    assert ("Normal", "BackOff", f'Back-off pulling image "{image}"') in seen
    assert ("Warning", "Failed", "Error: ImagePullBackOff") in seen
    api.delete_namespaced_pod(name, "default")


def test_the_back_off_doubles_from_ten_seconds_to_five_minutes() -> None:
    # flowcontrol.NewBackOff(backOffPeriod=10s, MaxContainerBackOff=300s), pkg/kubelet/kubelet.go
    backoff = Backoff(PullModel())
    assert [backoff.failed("pod_image") for _ in range(7)] == [10, 20, 40, 80, 160, 300, 300]


def docker_config(user: str, password: str) -> dict[str, Any]:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = {"auths": {"registry.private.example": {"auth": auth}}}
    return {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}


def test_a_registry_that_needs_credentials_refuses_a_pod_without_matching_pull_secrets(
    sim: KubeSim,
) -> None:
    api = core(sim)
    made = kubectl(
        sim,
        "create",
        "secret",
        "docker-registry",
        "regcred",
        "--docker-server=registry.private.example",
        "--docker-username=robot",
        "--docker-password=s3cret",
    )
    assert made.returncode == 0, made.stderr
    wrong = {"metadata": {"name": "wrongcred"}, "type": "kubernetes.io/dockerconfigjson"}
    api.create_namespaced_secret("default", {**wrong, "data": docker_config("robot", "nope")})
    # Always: each of these pulls on its own, whatever the node already has.
    api.create_namespaced_pod("default", pod("anon", PRIVATE, "Always"))
    api.create_namespaced_pod(
        "default", pod("wrong", PRIVATE, "Always", imagePullSecrets=[{"name": "wrongcred"}])
    )
    api.create_namespaced_pod(
        "default", pod("missing", PRIVATE, "Always", imagePullSecrets=[{"name": "nosuchsecret"}])
    )
    # containerd's resolver on a registry's 401 (core/remotes/errors/errors.go).
    url = "https://registry.private.example/v2/team/cowweb/manifests/25"
    refused = (
        f'failed to pull and unpack image "{PRIVATE}": failed to resolve reference "{PRIVATE}": '
        f"unexpected status from HEAD request to {url}: 401 Unauthorized"
    )
    for name in ("anon", "wrong", "missing"):
        state = wait_for(
            lambda n=name: w if (w := waiting(api, n)) and w.reason == "ErrImagePull" else None
        )
        assert state.message == refused
    api.create_namespaced_pod(
        "default", pod("authed", PRIVATE, imagePullSecrets=[{"name": "regcred"}])
    )
    pod_running(api, "authed")
    # As a 1.31 kubelet does (KubeletEnsureSecretPulledImages is alpha from 1.33, off): once
    # the image is on the node, an IfNotPresent pod without credentials runs it.
    api.create_namespaced_pod("default", pod("freeloader", PRIVATE))
    pod_running(api, "freeloader")
    assert (
        "Warning",
        "FailedToRetrieveImagePullSecret",
        "Unable to retrieve some image pull secrets (nosuchsecret); attempting to pull the "
        "image may not succeed.",
    ) in events(api, "missing")


def test_kubectl_describe_and_get_events_show_the_pull(sim: KubeSim) -> None:
    pod_running(core(sim), "cold")
    described = kubectl(sim, "describe", "pod", "cold", check=True).stdout
    events_part = described.split("Events:", 1)[1]
    assert re.search(rf'Normal\s+Pulling\s+\S+\s+kubelet\s+Pulling image "{JDK}"', events_part)
    assert re.search(r"Normal\s+Started\s+\S+\s+kubelet\s+Started container c", events_part)
    listed = kubectl(
        sim, "get", "events", "--field-selector", "involvedObject.name=cold", check=True
    )
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any(r.split()[1:4] == ["Normal", "Pulling", "pod/cold"] for r in rows), rows


def test_a_malformed_pull_setting_is_one_sentence_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBESIM_PULLS", raising=False)
    monkeypatch.setenv("KUBESIM_PULL_BANDWIDTH", "25MB")
    with pytest.raises(ValueError) as caught:
        PullModel.from_env()
    assert str(caught.value) == (
        "KUBESIM_PULL_BANDWIDTH='25MB' is not a number of bytes per second; unset it or give "
        "e.g. 25000000"
    )
    monkeypatch.setenv("KUBESIM_PULL_BANDWIDTH", "1e6")
    monkeypatch.setenv("KUBESIM_PULL_LATENCY", "0")
    assert PullModel.from_env() == PullModel(bandwidth=1e6, latency=0.0)
    monkeypatch.setenv("KUBESIM_PULLS", "instant")
    assert PullModel.from_env() == PullModel.instant()
