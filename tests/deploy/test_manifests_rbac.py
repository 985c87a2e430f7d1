"""The rendered overlays' RBAC: the cluster-wide overlays grant exactly base/rbac.yaml's rules,
pods are created only in the bot's namespace, and the namespaced overlay grants the same rules
as Roles in each listed namespace, with rbac.yaml's comments."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.conftest import (
    BOT_NAMESPACE,
    DEPLOY,
    OVERLAYS,
    Obj,
    of_kind,
    one,
)

RBAC = DEPLOY / "base" / "rbac.yaml"
NAMESPACED_ROLE = DEPLOY / "overlays" / "namespaced" / "role" / "role.yaml"


def rule_set(rules: list[Obj]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples, so rule layout does not matter."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def rbac_file_docs() -> list[Obj]:
    return [d for d in yaml.safe_load_all(RBAC.read_text()) if d]


# -- RBAC ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["socket-mode", "http-mode"])
def test_cluster_wide_overlays_grant_exactly_the_rules_of_rbac_yaml(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    def rbac(docs: list[Obj]) -> list[tuple[str, str, str, frozenset[tuple[str, str, str]]]]:
        return sorted(
            (
                d["kind"],
                d["metadata"]["name"],
                d["metadata"].get("namespace", ""),
                frozenset(rule_set(d["rules"])),
            )
            for d in docs
            if d["kind"] in ("Role", "ClusterRole")
        )

    assert rbac(rendered[overlay]) == rbac(rbac_file_docs())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_creating_pods_is_granted_only_in_the_bots_namespace(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for doc in rendered[overlay]:
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        if ("", "pods", "create") in rule_set(doc["rules"]):
            assert doc["kind"] == "Role" and doc["metadata"]["namespace"] == BOT_NAMESPACE


def test_namespaced_overlay_has_no_cluster_role_or_cluster_role_binding(
    rendered: dict[str, list[Obj]],
) -> None:
    kinds = {d["kind"] for d in rendered["namespaced"]}
    assert "Role" in kinds and "RoleBinding" in kinds
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}


LEADER_ELECTION = "jdebug-leader-election"


def test_namespaced_roles_grant_the_cluster_roles_rules_in_each_listed_namespace_only(
    rendered: dict[str, list[Obj]],
) -> None:
    cluster_role = one(rbac_file_docs(), "ClusterRole", "jdebug")
    docs = rendered["namespaced"]
    # Leader election is not a strategy grant: it stays, in the bot's namespace only.
    election = one(docs, "Role", LEADER_ELECTION, BOT_NAMESPACE)
    assert election == one(rbac_file_docs(), "Role", LEADER_ELECTION, BOT_NAMESPACE) | {
        "metadata": election["metadata"]
    }
    roles = [r for r in of_kind(docs, "Role") if r["metadata"]["name"] != LEADER_ELECTION]
    assert {r["metadata"]["namespace"] for r in roles} == {"apps", BOT_NAMESPACE}
    for role in roles:
        assert rule_set(role["rules"]) == rule_set(cluster_role["rules"]), role["metadata"]
    bindings = [b for b in of_kind(docs, "RoleBinding") if b["metadata"]["name"] != LEADER_ELECTION]
    assert {b["metadata"]["namespace"] for b in bindings} == {"apps", BOT_NAMESPACE}
    for binding in bindings:
        namespace = binding["metadata"]["namespace"]
        assert binding["roleRef"]["kind"] == "Role"
        one(docs, "Role", binding["roleRef"]["name"], namespace)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "jdebug", "namespace": BOT_NAMESPACE}
        ]


def test_namespaced_roles_carry_the_comments_of_rbac_yaml() -> None:
    def comments(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]

    cluster_role_block = RBAC.read_text().split("kind: ClusterRole\n", 1)[1].split("---", 1)[0]
    expected = comments(cluster_role_block)
    assert len(expected) >= len(one(rbac_file_docs(), "ClusterRole", "jdebug")["rules"])
    missing = [line for line in expected if line not in comments(NAMESPACED_ROLE.read_text())]
    assert not missing
