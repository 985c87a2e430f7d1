"""Volumes as the kubelet mounts them: ConfigMap and Secret files in the atomic-writer layout,
updated in place after a change (subPath copies excepted), FailedMount for a missing object,
emptyDir shared between containers, and hostPath really mounted (the host's / included)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import core, kubectl, needs_root, pod_running, wait_for

pytestmark = needs_root
BUSYBOX = "jdebug.local/busybox"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    # A sync period of half a second instead of the kubelet's minute.
    with KubeSim(grace_cap=0.5, volume_sync=0.5) as running:
        yield running


def pod(
    name: str, volumes: list[dict[str, Any]], mounts: list[dict[str, Any]], **c: Any
) -> dict[str, Any]:
    container = {
        "name": "c",
        "image": BUSYBOX,
        "command": ["sleep", "3600"],
        "volumeMounts": mounts,
        **c,
    }
    return {"metadata": {"name": name}, "spec": {"volumes": volumes, "containers": [container]}}


def sh(sim: KubeSim, name: str, script: str, container: str = "c") -> str:
    result = kubectl(sim, "exec", name, "-c", container, "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_configmap_files_use_the_atomic_writer_layout_and_follow_changes(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_config_map(
        "default",
        {"metadata": {"name": "settings"}, "data": {"policy.yaml": "v: 1\n", "mode": "a"}},
    )
    volumes = [{"name": "cfg", "configMap": {"name": "settings"}}]
    mounts = [
        {"name": "cfg", "mountPath": "/etc/jdebug"},
        {"name": "cfg", "mountPath": "/copy/policy.yaml", "subPath": "policy.yaml"},
    ]
    api.create_namespaced_pod("default", pod("cfg", volumes, mounts))
    pod_running(api, "cfg")
    layout = sh(
        sim,
        "cfg",
        "cd /etc/jdebug && for f in policy.yaml mode ..data; do readlink $f; done; ls -A",
    )
    links = layout.split()
    assert links[:2] == ["..data/policy.yaml", "..data/mode"]
    assert links[2].startswith("..") and links[2] != "..data"  # ..data -> ..<timestamp>
    assert sorted(links[3:]) == sorted(["..data", links[2], "mode", "policy.yaml"])
    api.patch_namespaced_config_map("settings", "default", {"data": {"policy.yaml": "v: 2\n"}})

    def updated() -> str:
        text = sh(sim, "cfg", "cat /etc/jdebug/policy.yaml")
        return text if text == "v: 2\n" else ""

    wait_for(updated, 30, "the ConfigMap change in the volume")
    # A subPath mount is a copy taken at start: the kubelet never updates it.
    assert sh(sim, "cfg", "cat /copy/policy.yaml") == "v: 1\n"
    assert (
        "Read-only file system"
        in kubectl(sim, "exec", "cfg", "--", "sh", "-c", "echo x > /etc/jdebug/x").stderr
    )


def test_secret_files_are_decoded_with_their_modes(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_secret(
        "default", {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}}
    )
    volumes = [
        {
            "name": "s",
            "secret": {
                "secretName": "creds",
                "defaultMode": 0o400,
                "items": [{"key": "token", "path": "auth/token"}],
            },
        }
    ]
    api.create_namespaced_pod(
        "default", pod("secret", volumes, [{"name": "s", "mountPath": "/var/run/creds"}])
    )
    pod_running(api, "secret")
    assert sh(
        sim, "secret", "cat /var/run/creds/auth/token; stat -c %a /var/run/creds/auth/token"
    ) == ("s3cret400\n")


def test_a_missing_configmap_keeps_the_pod_creating_with_failed_mount(sim: KubeSim) -> None:
    api = core(sim)
    volumes = [{"name": "cfg", "configMap": {"name": "absent"}}]
    api.create_namespaced_pod(
        "default", pod("nomap", volumes, [{"name": "cfg", "mountPath": "/cfg"}])
    )
    # pkg/volume/configmap/configmap.go, SetUpAt
    message = 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'

    def failed_mount() -> list[client.CoreV1Event]:
        found = api.list_namespaced_event("default", field_selector="involvedObject.name=nomap")
        return [e for e in found.items if e.reason == "FailedMount"]

    (event,) = wait_for(failed_mount, what="FailedMount")
    assert (event.type, event.message) == ("Warning", message)
    waiting = api.read_namespaced_pod("nomap", "default").status.container_statuses[0].state.waiting
    assert waiting.reason == "ContainerCreating"
    api.create_namespaced_config_map(
        "default", {"metadata": {"name": "absent"}, "data": {"k": "v"}}
    )
    pod_running(api, "nomap")
    assert sh(sim, "nomap", "cat /cfg/k") == "v"


def test_an_empty_dir_is_shared_between_the_pods_containers(sim: KubeSim) -> None:
    api = core(sim)
    body = pod(
        "shared", [{"name": "scratch", "emptyDir": {}}], [{"name": "scratch", "mountPath": "/data"}]
    )
    second = {
        **body["spec"]["containers"][0],
        "name": "other",
        "securityContext": {"runAsUser": 1000},
    }
    body["spec"]["containers"].append(second)
    api.create_namespaced_pod("default", body)
    pod_running(api, "shared")
    sh(sim, "shared", "echo from-other > /data/note", container="other")
    assert sh(sim, "shared", "cat /data/note; stat -c %a /data") == "from-other\n777\n"


def test_host_path_volumes_are_really_mounted_the_hosts_root_included(
    sim: KubeSim, tmp_path: Path
) -> None:
    api = core(sim)
    (tmp_path / "marker").write_text(json.dumps({"pid": os.getpid()}))
    volumes = [
        {"name": "dir", "hostPath": {"path": str(tmp_path), "type": "Directory"}},
        # what `kubectl debug node/...` mounts at /host
        {"name": "host", "hostPath": {"path": "/"}},
    ]
    mounts = [
        {"name": "dir", "mountPath": "/mnt/dir", "readOnly": True},
        {"name": "host", "mountPath": "/host"},
    ]
    api.create_namespaced_pod("default", pod("hostpath", volumes, mounts))
    pod_running(api, "hostpath")
    seen = sh(
        sim,
        "hostpath",
        f"cat /mnt/dir/marker; echo; cat /host{tmp_path}/marker; echo; "
        "echo x > /mnt/dir/new 2>&1 || echo refused; [ -d /host/proc/1 ] && echo proc",
    )
    marker = json.dumps({"pid": os.getpid()})
    assert seen.splitlines() == [marker, marker, "refused", "proc"]
    assert not (tmp_path / "new").exists()
    volumes = [{"name": "dir", "hostPath": {"path": str(tmp_path / "nope"), "type": "Directory"}}]
    api.create_namespaced_pod(
        "default", pod("nohost", volumes, [{"name": "dir", "mountPath": "/d"}])
    )

    def failed() -> list[str]:
        found = api.list_namespaced_event("default", field_selector="involvedObject.name=nohost")
        return [e.message for e in found.items if e.reason == "FailedMount"]

    assert wait_for(failed) == [
        f'MountVolume.SetUp failed for volume "dir" : hostPath type check failed: '
        f"{tmp_path / 'nope'} is not a directory"
    ]
