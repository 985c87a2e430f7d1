"""A debug image in a private registry: node debug pods pull it with JDEBUG_IMAGE_PULL_SECRETS,
an ephemeral container with its pod's own imagePullSecrets, and a refused pull names the image
and the fixes in one sentence; the node pods' namespace that does not exist is named as such.

kubesim's registry.private.example takes robot:s3cret only (kubesim/kubelet/images.yaml)."""

from __future__ import annotations

import base64
import json

import pytest
from kubernetes import client, config

from bot.kube.backend import KubeBackend
from bot.model.errors import StrategyUnavailable
from bot.session.run import run_request
from kubesim import KubeSim
from tests.faults.leftovers import debug_pods, running_debug_containers
from tests.strategies.conftest import backend_for, needs_root, request
from tests.support.polling import wait_for

pytestmark = needs_root

MIRROR = "registry.private.example/mirror/jdebug-debug:0.1.0"


def admin(sim: KubeSim) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))


def make_pull_secret(sim: KubeSim, namespace: str, name: str) -> None:
    auth = base64.b64encode(b"robot:s3cret").decode()
    dockerconfig = json.dumps({"auths": {"registry.private.example": {"auth": auth}}})
    admin(sim).create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": name},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(dockerconfig.encode()).decode()},
        },
    )


def node_backend(sim: KubeSim, **settings: object) -> KubeBackend:
    return backend_for(sim, order=("node",), debug_image=MIRROR, **settings)


async def test_a_node_pod_without_credentials_names_the_image_and_the_pull_secrets_setting(
    sim: KubeSim,
) -> None:
    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(request("version pod=cowweb ns=apps"), node_backend(sim))

    text = str(excinfo.value)
    assert f"the debug image {MIRROR} could not be pulled (ErrImagePull: " in text
    assert "401 Unauthorized" in text
    assert "set JDEBUG_DEBUG_IMAGE to the mirror" in text
    assert "set JDEBUG_IMAGE_PULL_SECRETS to a secret that covers it" in text
    wait_for(lambda: not debug_pods(sim), 60, "the node debug pod to be gone")


async def test_wrong_configured_secrets_are_named_in_the_sentence(sim: KubeSim) -> None:
    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("version pod=cowweb ns=apps"),
            node_backend(sim, image_pull_secrets=("no-such-cred",)),
        )

    assert (
        "the node debug pod pulls with JDEBUG_IMAGE_PULL_SECRETS (no-such-cred): check they "
        "cover it"
    ) in str(excinfo.value)


async def test_an_ephemeral_container_names_its_pods_own_pull_secrets(sim: KubeSim) -> None:
    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("version pod=cowweb ns=apps"),
            backend_for(sim, order=("ephemeral",), debug_image=MIRROR),
        )

    text = str(excinfo.value)
    assert f"the debug image {MIRROR} could not be pulled" in text
    assert (
        "an ephemeral container pulls with its pod's own imagePullSecrets (none), which do not "
        "cover this image"
    ) in text
    assert running_debug_containers(sim, "apps", "cowweb") == []


async def test_a_node_namespace_that_does_not_exist_is_named_as_missing(sim: KubeSim) -> None:
    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("version pod=cowweb ns=apps"),
            backend_for(sim, order=("node",), node_namespace="jdebug-nodes"),
        )

    text = str(excinfo.value)
    assert "the node debug pods' namespace jdebug-nodes does not exist" in text
    assert "set JDEBUG_NODE_NAMESPACE to one that exists" in text
    assert "grant get on namespaces" not in text


# Last: once the node has the image, an IfNotPresent pull needs no credentials (as a 1.31
# kubelet does), so the refusals above would no longer be seen.
async def test_a_node_pod_pulls_with_the_configured_secrets(sim: KubeSim) -> None:
    make_pull_secret(sim, "jdebug", "mirror-cred")

    result = await run_request(
        request("version pod=cowweb ns=apps"),
        node_backend(sim, image_pull_secrets=("mirror-cred",)),
    )

    assert result.raw.strategy == "node"
    assert "JDK 11" in result.raw.steps[0].text
    wait_for(lambda: not debug_pods(sim), 60, "the node debug pod to be gone")
