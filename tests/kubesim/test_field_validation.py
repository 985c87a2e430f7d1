"""Server-side field validation of pod writes: PATCH and PUT of `pods` and of
`pods/ephemeralcontainers` drop unknown fields, warn about them by default (`Warning: 299`)
and refuse them under `fieldValidation=Strict`, as every other kind's writes do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, raw, raw_with_headers

POD = "/api/v1/namespaces/default/pods/cowweb"
EPHEMERAL = POD + "/ephemeralcontainers"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"]) as running:
        yield running


def debugger(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "jdebug.local/busybox", "command": ["true"], **extra}


def ephemeral_names(sim: KubeSim) -> list[str]:
    _, pod = raw(sim, "GET", POD)
    return [c["name"] for c in pod["spec"].get("ephemeralContainers") or []]


def test_an_ephemeral_container_patch_with_an_unknown_field_is_warned_about_and_stored_without_it(
    sim: KubeSim,
) -> None:
    body = {"spec": {"ephemeralContainers": [debugger("warned", comand=["sh"])]}}
    index = len(ephemeral_names(sim))
    status, pod, headers = raw_with_headers(sim, "PATCH", EPHEMERAL, body, SMP)
    assert status == 200, pod
    field = f"spec.ephemeralContainers[{index}].comand"
    assert headers.get_all("Warning") == [f'299 - "unknown field \\"{field}\\""']
    stored = pod["spec"]["ephemeralContainers"][index]
    assert stored["name"] == "warned"
    assert "comand" not in stored
    _, again = raw(sim, "GET", POD)
    assert "comand" not in again["spec"]["ephemeralContainers"][index]


def test_a_strict_ephemeral_container_patch_with_an_unknown_field_is_refused_on_the_patch(
    sim: KubeSim,
) -> None:
    before = ephemeral_names(sim)
    body = {"spec": {"ephemeralContainers": [debugger("strict", comand=["sh"])]}}
    status, answer = raw(sim, "PATCH", EPHEMERAL + "?fieldValidation=Strict", body, SMP)
    assert status == 422, answer
    assert answer["reason"] == "Invalid"
    field = f"spec.ephemeralContainers[{len(before)}].comand"
    assert answer["details"]["causes"][0]["field"] == "patch"
    assert f'strict decoding error: unknown field "{field}"' in answer["message"]
    assert ephemeral_names(sim) == before


def test_an_ignored_unknown_field_is_dropped_without_a_warning(sim: KubeSim) -> None:
    body = {"spec": {"ephemeralContainers": [debugger("ignored", comand=["sh"])]}}
    status, pod, headers = raw_with_headers(
        sim, "PATCH", EPHEMERAL + "?fieldValidation=Ignore", body, SMP
    )
    assert status == 200, pod
    assert headers.get_all("Warning") is None
    added = [c for c in pod["spec"]["ephemeralContainers"] if c["name"] == "ignored"]
    assert len(added) == 1 and "comand" not in added[0]


def test_a_strict_ephemeral_container_put_with_an_unknown_field_is_a_decoding_error(
    sim: KubeSim,
) -> None:
    _, pod = raw(sim, "GET", EPHEMERAL)
    before = [c["name"] for c in pod["spec"].get("ephemeralContainers") or []]
    pod["spec"].setdefault("ephemeralContainers", []).append(debugger("put", comand=["sh"]))
    status, answer = raw(sim, "PUT", EPHEMERAL + "?fieldValidation=Strict", pod)
    assert status == 400, answer
    field = f"spec.ephemeralContainers[{len(before)}].comand"
    assert answer["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        f'unknown field "{field}"'
    )
    assert ephemeral_names(sim) == before


def test_a_pod_patch_with_an_unknown_field_is_warned_about_and_stored_without_it(
    sim: KubeSim,
) -> None:
    body = {"metadata": {"labels": {"patched": "yes"}, "labelz": {"x": "y"}}}
    status, pod, headers = raw_with_headers(sim, "PATCH", POD, body, MERGE)
    assert status == 200, pod
    assert headers.get_all("Warning") == ['299 - "unknown field \\"metadata.labelz\\""']
    assert pod["metadata"]["labels"]["patched"] == "yes"
    assert "labelz" not in pod["metadata"]


def test_a_pod_patch_adding_an_unknown_spec_field_is_no_spec_change(sim: KubeSim) -> None:
    """Decoding drops the field before the pod's immutability check sees the spec, so the
    patch is not refused as a spec update: it only warns."""
    status, pod, headers = raw_with_headers(sim, "PATCH", POD, {"spec": {"nodeNmae": "x"}}, MERGE)
    assert status == 200, pod
    assert headers.get_all("Warning") == ['299 - "unknown field \\"spec.nodeNmae\\""']
    assert "nodeNmae" not in pod["spec"]


def test_a_strict_pod_patch_with_an_unknown_field_is_refused_and_nothing_changes(
    sim: KubeSim,
) -> None:
    body = {"metadata": {"labels": {"strict": "yes"}, "labelz": {"x": "y"}}}
    status, answer = raw(sim, "PATCH", POD + "?fieldValidation=Strict", body, MERGE)
    assert status == 422, answer
    assert answer["details"]["causes"][0]["field"] == "patch"
    assert 'strict decoding error: unknown field "metadata.labelz"' in answer["message"]
    _, pod = raw(sim, "GET", POD)
    assert "strict" not in (pod["metadata"].get("labels") or {})


def test_a_strict_pod_put_with_an_unknown_field_is_a_decoding_error(sim: KubeSim) -> None:
    _, pod = raw(sim, "GET", POD)
    pod["metadata"]["labelz"] = {"x": "y"}
    status, answer = raw(sim, "PUT", POD + "?fieldValidation=Strict", pod)
    assert status == 400, answer
    assert answer["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "metadata.labelz"'
    )
