"""Watches from a resourceVersion, as the apiserver's watch cache serves them
(apiserver/pkg/storage/cacher/watch_cache.go): every change after the version comes first,
so a list then a watch from the list's resourceVersion misses nothing (what `kubectl rollout
status` and every informer rely on); a version older than the cache keeps is a 410 Expired
ERROR event, "too old resource version"."""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest
from kubernetes import client, watch

from kubesim import KubeSim
from tests.kubesim.conftest import core


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim() as running:
        yield running


def config_map(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"k": "v"}}


def test_a_watch_from_a_lists_version_sees_what_changed_after_it(sim: KubeSim) -> None:
    api = core(sim)
    listed = api.list_namespaced_config_map("default")
    version = listed.metadata.resource_version
    api.create_namespaced_config_map("default", config_map("after-the-list"))
    api.patch_namespaced_config_map("after-the-list", "default", {"data": {"k": "w"}})

    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            api.list_namespaced_config_map,
            "default",
            resource_version=version,
            timeout_seconds=1,
        )
    ]

    assert events[:2] == [("ADDED", "after-the-list"), ("MODIFIED", "after-the-list")]


def test_a_version_older_than_the_cache_keeps_is_410_expired(sim: KubeSim) -> None:
    api = core(sim)
    version = api.list_namespaced_config_map("default").metadata.resource_version
    assert sim.cluster is not None
    store = sim.cluster.store
    store.history = collections.deque(store.history, maxlen=3)  # a small cache, for the test
    for n in range(5):
        api.create_namespaced_config_map("default", config_map(f"churn-{n}"))

    with pytest.raises(client.ApiException) as expired:
        list(
            watch.Watch().stream(
                api.list_namespaced_config_map,
                "default",
                resource_version=version,
                timeout_seconds=1,
            )
        )

    assert expired.value.status == 410
    assert "too old resource version: " in str(expired.value.reason)
