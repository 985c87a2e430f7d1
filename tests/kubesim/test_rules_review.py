"""SelfSubjectRulesReview (authorization.k8s.io/v1), as `kubectl auth can-i --list` uses it.

The registry (pkg/registry/authorization/selfsubjectrulesreview/rest.go) answers the union of
the authorizers' RulesFor: RBAC's rules as bound, including the bootstrap bindings every
authenticated user has (system:basic-user, system:discovery, system:public-info-viewer,
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go), `evaluationError` for what could not
be resolved (a binding to a missing role), and `incomplete` only from an authorizer that cannot
list rules (the Node authorizer, for a kubelet's identity). kubectl prints the warning
`Warning: the list may be incomplete` only when `incomplete` is set (kubectl/pkg/cmd/auth/cani.go).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, api_client, kubectl, raw

DEBUGGER = "default/debugger"
REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        yield running


def review(sim: KubeSim, identity: str, namespace: str) -> dict[str, Any]:
    api = client.AuthorizationV1Api(api_client(sim, identity))
    body = client.V1SelfSubjectRulesReview(
        spec=client.V1SelfSubjectRulesReviewSpec(namespace=namespace)
    )
    answer: dict[str, Any] = api.create_self_subject_rules_review(body).to_dict()
    return answer["status"]


def table(text: str) -> set[tuple[str, ...]]:
    """kubectl's can-i --list rows, split into their four columns."""
    lines = text.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [
        "Resources",
        "Non-Resource URLs",
        "Resource Names",
        "Verbs",
    ]
    rows = set()
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        rows.add(tuple([""] * (4 - len(cells)) + cells))
    return rows


def test_kubectl_lists_the_callers_rules_in_the_namespace(sim: KubeSim) -> None:
    out = kubectl(sim, "auth", "can-i", "--list", "-n", "default", identity=DEBUGGER, check=True)
    rows = table(out.stdout)
    assert {
        ("pods", "[]", "[]", "[get list]"),
        ("pods/ephemeralcontainers", "[]", "[cowweb]", "[patch]"),
        ("pods/exec", "[]", "[]", "[get]"),
        ("leases.coordination.k8s.io", "[]", "[]", "[*]"),
        ("selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"),
        ("selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"),
        ("", "[/api/*]", "[]", "[get]"),
        ("", "[/version]", "[]", "[get]"),
    } <= rows
    assert out.stderr == ""


def test_rules_bound_in_another_namespace_are_not_listed(sim: KubeSim) -> None:
    here = review(sim, "default/reader", "baseline")
    elsewhere = review(sim, "default/reader", "default")
    pods = {"verbs": ["get", "list", "watch"], "api_groups": [""], "resources": ["pods"]}
    assert {**pods, "resource_names": None} in here["resource_rules"]
    assert all(r["resources"] != ["pods"] for r in elsewhere["resource_rules"])
    assert here["incomplete"] is False and here["evaluation_error"] is None


def test_the_official_client_sees_resource_names_and_url_rules(sim: KubeSim) -> None:
    status = review(sim, DEBUGGER, "default")
    assert {
        "verbs": ["patch"],
        "api_groups": [""],
        "resources": ["pods/ephemeralcontainers"],
        "resource_names": ["cowweb"],
    } in status["resource_rules"]
    assert {
        "verbs": ["get"],
        "non_resource_urls": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in status["non_resource_rules"]


def test_a_binding_to_a_missing_role_is_an_evaluation_error_not_incomplete(sim: KubeSim) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "ghost", "namespace": "default"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "ghost",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}],
    }
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
    assert raw(sim, "POST", path, binding)[0] == 201
    missing = 'clusterrole.rbac.authorization.k8s.io "ghost" not found'
    try:
        status = review(sim, "default/reader", "default")
        assert status["incomplete"] is False
        assert status["evaluation_error"] == missing
        out = kubectl(sim, "auth", "can-i", "--list", "-n", "default", identity="default/reader")
        assert out.returncode == 0 and out.stderr == ""
        # A denial now names what RBAC could not read, as the authorization filter does.
        code, body = raw(sim, "GET", "/api/v1/namespaces/default/pods", identity="default/reader")
        assert code == 403
        assert body["message"].endswith(f'in the namespace "default": RBAC: {missing}')
    finally:
        raw(sim, "DELETE", f"{path}/ghost")


def test_a_kubelets_identity_gets_an_incomplete_list_and_kubectls_warning(sim: KubeSim) -> None:
    out = kubectl(
        sim,
        "auth",
        "can-i",
        "--list",
        "--as=system:node:kubesim",
        "--as-group=system:nodes",
        check=True,
    )
    assert out.stderr == (
        "Warning: the list may be incomplete: node authorizer does not support user rule "
        "resolution\n"
    )


def test_the_admin_holds_cluster_admin(sim: KubeSim) -> None:
    status = review(sim, "admin", "default")
    assert {
        "verbs": ["*"],
        "api_groups": ["*"],
        "resources": ["*"],
        "resource_names": None,
    } in status["resource_rules"]
    assert {"verbs": ["*"], "non_resource_urls": ["*"]} in status["non_resource_rules"]


def test_a_review_without_a_namespace_is_a_400(sim: KubeSim) -> None:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {}}
    status, answer = raw(sim, "POST", REVIEWS, body, identity=DEBUGGER)
    assert (status, answer["message"]) == (400, "no namespace on request")
