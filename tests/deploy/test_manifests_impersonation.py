"""The impersonation component (deploy/components/impersonation): it adds only named
`impersonate` rules to the base RBAC, and its identity table maps only to names they allow."""

from __future__ import annotations

from bot.access.impersonation import load_identity_table
from tests.deploy.conftest import (
    BOT_NAMESPACE,
    DEPLOY,
    PLACEHOLDER,
    Obj,
    bot_container,
    bot_deployment,
    of_kind,
    one,
    settings_configmap,
)

IMPERSONATION = DEPLOY / "components" / "impersonation"


# -- impersonation (components/impersonation) ------------------------------------------------


def test_impersonation_overlay_adds_only_impersonate_and_keeps_the_base_rbac(
    rendered: dict[str, list[Obj]],
) -> None:
    docs = rendered["impersonation"]
    added = one(docs, "ClusterRole", "jdebug-impersonate")
    for rule in added["rules"]:
        # Named users and groups only: never "impersonate anyone".
        assert rule["verbs"] == ["impersonate"] and rule["apiGroups"] == [""]
        assert set(rule["resources"]) <= {"users", "groups"}
        assert rule.get("resourceNames"), rule
    binding = one(docs, "ClusterRoleBinding", "jdebug-impersonate")
    assert binding["roleRef"]["name"] == "jdebug-impersonate"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "jdebug", "namespace": BOT_NAMESPACE}
    ]
    rest = [d for d in docs if d["metadata"]["name"] != "jdebug-impersonate"]
    base = rendered["socket-mode"]
    for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        assert of_kind(rest, kind) == of_kind(base, kind), kind


def test_impersonation_table_maps_only_to_names_the_cluster_role_allows(
    rendered: dict[str, list[Obj]],
) -> None:
    docs = rendered["impersonation"]
    data = settings_configmap(docs)["data"]
    assert data["JDEBUG_IMPERSONATION"] in ("table", "email")
    table_path = data["JDEBUG_IMPERSONATION_TABLE"]
    mounts = {m["name"]: m for m in bot_container(docs)["volumeMounts"]}
    mount = mounts["impersonation"]
    assert mount["readOnly"] and table_path.startswith(mount["mountPath"] + "/")
    volume = next(
        v
        for v in bot_deployment(docs)["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "impersonation"
    )
    configmap = one(docs, "ConfigMap", volume["configMap"]["name"], BOT_NAMESPACE)
    file_name = table_path.rsplit("/", 1)[1]
    table_file = IMPERSONATION / file_name
    assert configmap["data"][file_name] == table_file.read_text()
    table = load_identity_table(table_file)
    allowed = {
        resource: set(rule["resourceNames"])
        for rule in one(docs, "ClusterRole", "jdebug-impersonate")["rules"]
        for resource in rule["resources"]
    }
    assert table.entries
    for identity in table.entries.values():
        assert identity.user in allowed["users"]
        assert set(identity.groups) <= allowed["groups"]
        assert PLACEHOLDER in identity.user  # shipped as a template, never a real person
