"""The rendered kustomize overlays: they validate against the Kubernetes 1.25–1.34 schemas,
hang together (names, ports, selectors), grant exactly base/rbac.yaml's rules, keep the bot
unprivileged, and the Secret template holds placeholders only."""

from __future__ import annotations

import copy
import re
import secrets
import tomllib

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate.utils import all_versions  # type: ignore[import-untyped]

from bot.app import EVENTS_PATH, BotServer
from bot.backends import strategy_order
from bot.impersonation import load_identity_table
from bot.kube.backend import DEFAULT_ORDER
from bot.kube.strategies.node import MANAGED_BY
from bot.settings import ENV_PREFIX, Settings, env_name
from kubesim.podsecurity import violations
from tests.deploy.conftest import (
    BOT_NAMESPACE,
    DEPLOY,
    OVERLAYS,
    REPO,
    SECRET_TEMPLATE,
    Obj,
    bot_container,
    bot_deployment,
    of_kind,
    one,
    secret_template,
    selects,
    settings_configmap,
)

VERSIONS = tuple(f"1.{minor}" for minor in range(25, 35))
RBAC = DEPLOY / "base" / "rbac.yaml"
NAMESPACED_ROLE = DEPLOY / "overlays" / "namespaced" / "role" / "role.yaml"
IMPERSONATION = DEPLOY / "components" / "impersonation"
# Real Slack credentials: bot/user tokens (xoxb-123-456-abc), app-level tokens
# (xapp-1-A0B1-123-abc…), signing secrets (32 hex digits).
REAL_TOKEN = re.compile(r"xox[abposr]-\d+-|xapp-\d-[A-Z0-9]+-|\b[0-9a-f]{32}\b")
PLACEHOLDER = "REPLACE-ME"
ALLOWED_EGRESS_PORTS = {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")}


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


def pod_template(docs: list[Obj]) -> Obj:
    return {
        "metadata": {"name": "jdebug"},
        "spec": bot_deployment(docs)["spec"]["template"]["spec"],
    }


def bot_pod_labels(docs: list[Obj]) -> dict[str, str]:
    return dict(bot_deployment(docs)["spec"]["template"]["metadata"]["labels"])


def port_numbers(rules: list[Obj]) -> set[tuple[int, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for rule in rules for p in rule.get("ports", [])}


def known_env_names() -> set[str]:
    """Every JDEBUG_* variable the bot reads: the Settings fields and direct os.environ reads."""
    names = {env_name(field) for field in Settings.model_fields}
    for folder in ("bot", "handlers"):
        for source in (REPO / folder).rglob("*.py"):
            names.update(re.findall(r"\bJDEBUG_[A-Z][A-Z_]*[A-Z]\b", source.read_text()))
    return {n for n in names if n.startswith(ENV_PREFIX)}


# -- rendering and schemas ----------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_a_deployment_whose_references_resolve(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    docs = rendered[overlay]
    deployment = bot_deployment(docs)
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    one(docs, "ServiceAccount", spec["serviceAccountName"], BOT_NAMESPACE)
    # kustomize renamed the generated ConfigMap with a hash; the reference must follow it.
    assert settings_configmap(docs)["metadata"]["name"].startswith("jdebug-settings-")
    secret_refs = [
        e["secretRef"]["name"] for e in bot_container(docs)["envFrom"] if "secretRef" in e
    ]
    assert secret_refs == [secret_template()["metadata"]["name"]]
    assert secret_template()["metadata"]["namespace"] == BOT_NAMESPACE
    # The image tag follows the project version, as the Dockerfile's VERSION label does.
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert bot_container(docs)["image"] == f"jdebug:{version}"
    assert f"ARG VERSION={version}\n" in (DEPLOY / "Dockerfile").read_text()


def test_kubernetes_validate_bundles_every_schema_version_from_1_25_to_1_34() -> None:
    bundled = {".".join(v.split(".")[:2]) for v in all_versions()}
    assert set(VERSIONS) <= bundled, f"missing: {sorted(set(VERSIONS) - bundled)}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[Obj]], overlay: str, version: str
) -> None:
    for doc in rendered[overlay]:
        # Strict: unknown fields (a misspelled key) fail too. The returned version is the
        # schema actually used, so a missing version cannot silently fall back to an older one.
        assert kubernetes_validate.validate(doc, version, strict=True) == version


@pytest.mark.parametrize("version", VERSIONS)
def test_secret_template_validates_against_the_kubernetes_schema(version: str) -> None:
    assert kubernetes_validate.validate(secret_template(), version, strict=True) == version


def test_schema_validation_rejects_a_misspelled_security_field(
    rendered: dict[str, list[Obj]],
) -> None:
    deployment = copy.deepcopy(bot_deployment(rendered["socket-mode"]))
    context = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    context["readOnlyRootFileSystem"] = context.pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.34", strict=True)


# -- the bot's pod ------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_bot_pod_meets_podsecurity_restricted_in_every_overlay(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    assert violations(pod_template(rendered[overlay]), "restricted") == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_overlay_gives_the_bot_ptrace_privileged_or_host_namespaces(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for deployment in of_kind(rendered[overlay], "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for key in ("hostPID", "hostNetwork", "hostIPC"):
            assert not spec.get(key), f"{key} on {deployment['metadata']['name']}"
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container.get("securityContext") or {}
            assert not context.get("privileged")
            assert (context.get("capabilities") or {}).get("add", []) == []
            assert context["capabilities"]["drop"] == ["ALL"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_read_only_root_has_a_writable_tmp_from_an_empty_dir(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    spec = bot_deployment(rendered[overlay])["spec"]["template"]["spec"]
    container = bot_container(rendered[overlay])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp"}  # anything else (the impersonation table) is read-only
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_probes_ask_the_health_server_for_the_routes_it_serves(
    rendered: dict[str, list[Obj]],
) -> None:
    import inspect

    docs = rendered["socket-mode"]
    container = bot_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    served = inspect.getsource(BotServer._start)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and f'"{path}"' in served
        assert ports[get["port"]] == int(settings_configmap(docs)["data"]["JDEBUG_HEALTH_PORT"])
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_knows_its_name_uid_and_namespace_from_the_downward_api(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    env = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in bot_container(rendered[overlay])["env"]
    }
    assert env == {
        "POD_NAME": "metadata.name",
        "POD_UID": "metadata.uid",
        "POD_NAMESPACE": "metadata.namespace",
    }


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_configmap_names_only_variables_the_bot_reads(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    data = settings_configmap(rendered[overlay])["data"]
    unknown = set(data) - known_env_names()
    assert not unknown, f"the bot reads no {sorted(unknown)}"
    for name in (
        "JDEBUG_NAMESPACE",
        "JDEBUG_DEBUG_IMAGE",
        "JDEBUG_STRATEGIES",
        "JDEBUG_ALLOWED_USERS",
    ):
        assert name in data


@pytest.mark.parametrize(
    ("overlay", "mode", "node"),
    [
        ("socket-mode", "socket", True),
        ("http-mode", "http", True),
        ("namespaced", "socket", False),
        ("impersonation", "socket", True),
    ],
)
def test_bot_accepts_its_settings_with_the_secret_template(
    rendered: dict[str, list[Obj]],
    overlay: str,
    mode: str,
    node: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = settings_configmap(rendered[overlay])["data"]
    for name in known_env_names() | set(secret_template()["stringData"]):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**data, **secret_template()["stringData"]}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.slack_mode == mode
    assert settings.serve_problems() == []
    # Default deny: the shipped settings admit nobody until the operator lists someone.
    assert not settings.allows("U012AB3CD", "C012AB3CD")
    order = strategy_order(data["JDEBUG_STRATEGIES"])
    assert set(order) <= set(DEFAULT_ORDER)
    assert ("node" in order) is node


def test_debug_image_setting_is_the_public_jdk_image_the_code_defaults_to(
    rendered: dict[str, list[Obj]],
) -> None:
    from bot.kube.strategies.context import KubeSettings

    data = settings_configmap(rendered["socket-mode"])["data"]
    assert data["JDEBUG_DEBUG_IMAGE"] == KubeSettings().debug_image
    assert KubeSettings().debug_image in (DEPLOY / "debug-image" / "Dockerfile").read_text()


# -- the Secret template -------------------------------------------------------------------


def test_secret_template_holds_placeholders_for_the_tokens_the_bot_reads() -> None:
    values = secret_template()["stringData"]
    slack_fields = ("slack_bot_token", "slack_app_token", "slack_signing_secret")
    assert set(values) == {env_name(f) for f in slack_fields}
    for name, value in values.items():
        assert PLACEHOLDER in value, name
        assert not REAL_TOKEN.search(value), name


@pytest.mark.parametrize("overlay", [*OVERLAYS, "base"])
def test_no_overlay_applies_a_secret(rendered: dict[str, list[Obj]], overlay: str) -> None:
    # Applying the overlay must never overwrite the operator's real tokens.
    assert of_kind(rendered[overlay], "Secret") == []


def test_no_file_under_deploy_holds_a_real_looking_slack_token() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file()]
    assert SECRET_TEMPLATE in files
    for path in files:
        found = REAL_TOKEN.findall(path.read_text())
        assert not found, f"{path.relative_to(REPO)}: {found}"


def digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def test_token_detector_recognises_real_shaped_tokens() -> None:
    made = [
        f"xoxb-{digits(12)}-{digits(13)}-{secrets.token_urlsafe(18)}",
        f"xapp-1-A{digits(10)}-{digits(13)}-{secrets.token_hex(32)}",
        secrets.token_hex(16),
    ]
    for token in made:
        assert REAL_TOKEN.search(f"SLACK_X: {token}\n"), token


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


# -- namespaces and PodSecurity labels -----------------------------------------------------


@pytest.mark.parametrize(
    ("overlay", "enforce"),
    [("socket-mode", "privileged"), ("http-mode", "privileged"), ("namespaced", "restricted")],
)
def test_bots_namespace_enforces_what_its_strategies_need_and_warns_at_restricted(
    rendered: dict[str, list[Obj]], overlay: str, enforce: str
) -> None:
    labels = one(rendered[overlay], "Namespace", BOT_NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == enforce
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    node_on = "node" in strategy_order(
        settings_configmap(rendered[overlay])["data"]["JDEBUG_STRATEGIES"]
    )
    # hostPID node pods are admitted only by `privileged`.
    assert node_on == (enforce == "privileged")


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
