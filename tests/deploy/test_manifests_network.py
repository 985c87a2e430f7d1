"""The rendered overlays' disruption budget and NetworkPolicies: one of two replicas kept, the
bot's egress and ingress limited to what it uses, debug pods with no network."""

from __future__ import annotations

import pytest

from bot.kube.strategies.node import MANAGED_BY
from handlers.slack.app import EVENTS_PATH
from tests.deploy.conftest import (
    BOT_NAMESPACE,
    OVERLAYS,
    Obj,
    bot_container,
    bot_deployment,
    of_kind,
    one,
    selects,
    settings_configmap,
)

ALLOWED_EGRESS_PORTS = {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")}


def bot_pod_labels(docs: list[Obj]) -> dict[str, str]:
    return dict(bot_deployment(docs)["spec"]["template"]["metadata"]["labels"])


def port_numbers(rules: list[Obj]) -> set[tuple[int, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for rule in rules for p in rule.get("ports", [])}


# -- disruption budget and network ---------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budget_keeps_one_of_the_two_replicas(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    docs = rendered[overlay]
    budget = one(docs, "PodDisruptionBudget", "jdebug", BOT_NAMESPACE)
    assert budget["spec"]["minAvailable"] == 1
    assert selects(budget["spec"]["selector"], bot_pod_labels(docs))
    assert not selects(budget["spec"]["selector"], {MANAGED_BY: "jdebug"})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_bot_egress_is_dns_api_server_and_https_only(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    docs = rendered[overlay]
    policies = [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if selects(p["spec"]["podSelector"], bot_pod_labels(docs))
    ]
    egress_policies = [p for p in policies if "Egress" in p["spec"]["policyTypes"]]
    assert egress_policies
    for policy in egress_policies:
        for rule in policy["spec"].get("egress", []):
            ports = port_numbers([rule])
            assert ports and ports <= ALLOWED_EGRESS_PORTS, rule
            if {53} & {p for p, _ in ports}:
                assert rule["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


@pytest.mark.parametrize(
    ("overlay", "extra"),
    [("socket-mode", set()), ("http-mode", {"JDEBUG_HTTP_PORT"}), ("namespaced", set())],
)
def test_bot_ingress_is_the_health_port_and_in_http_mode_the_events_port(
    rendered: dict[str, list[Obj]], overlay: str, extra: set[str]
) -> None:
    docs = rendered[overlay]
    data = settings_configmap(docs)["data"]
    expected = {(int(data[name]), "TCP") for name in {"JDEBUG_HEALTH_PORT", *extra}}
    opened: set[tuple[int, str]] = set()
    for policy in of_kind(docs, "NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], bot_pod_labels(docs)):
            assert all(
                "from" not in rule or rule["from"] for rule in policy["spec"].get("ingress", [])
            )
            opened |= port_numbers(policy["spec"].get("ingress", []))
    assert opened == expected
    container_ports = {(p["containerPort"], p["protocol"]) for p in bot_container(docs)["ports"]}
    assert expected == container_ports


def test_debug_pods_get_no_network_and_are_not_taken_for_the_bot(
    rendered: dict[str, list[Obj]],
) -> None:
    docs = rendered["socket-mode"]
    debug_labels = {MANAGED_BY: "jdebug", "jdebug/session": "0123abcd"}
    deny = [
        p for p in of_kind(docs, "NetworkPolicy") if selects(p["spec"]["podSelector"], debug_labels)
    ]
    assert len(deny) == 1
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny[0]["spec"].get("ingress") and not deny[0]["spec"].get("egress")
    assert not selects(deny[0]["spec"]["podSelector"], bot_pod_labels(docs))
    assert not selects(bot_deployment(docs)["spec"]["selector"], debug_labels)


def test_http_mode_routes_slacks_events_path_to_the_bots_http_port(
    rendered: dict[str, list[Obj]],
) -> None:
    docs = rendered["http-mode"]
    ingress = one(docs, "Ingress", "jdebug", BOT_NAMESPACE)
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [p["path"] for p in paths] == [EVENTS_PATH]
    backend = paths[0]["backend"]["service"]
    service = one(docs, "Service", backend["name"], BOT_NAMESPACE)
    assert selects({"matchLabels": service["spec"]["selector"]}, bot_pod_labels(docs))
    port = next(p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"])
    container_ports = {p["name"]: p["containerPort"] for p in bot_container(docs)["ports"]}
    http_port = int(settings_configmap(docs)["data"]["JDEBUG_HTTP_PORT"])
    assert container_ports[port["targetPort"]] == http_port
