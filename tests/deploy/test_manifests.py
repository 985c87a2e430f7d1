"""The rendered kustomize overlays: they validate against the Kubernetes 1.25–1.34 schemas,
hang together (names, ports, selectors), keep the bot unprivileged, read only settings the bot
knows, and the Secret template holds placeholders only. RBAC: test_manifests_rbac.py;
disruption budget and network: test_manifests_network.py; impersonation:
test_manifests_impersonation.py."""

from __future__ import annotations

import copy
import inspect
import re
import secrets
import tomllib

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from kubernetes_validate.utils import all_versions  # type: ignore[import-untyped]

from bot.kube.backend import DEFAULT_ORDER
from bot.kube.strategies.context import KubeSettings
from bot.model.request import Request, Requester
from bot.settings import ENV_PREFIX, JdebugSettings, env_name
from handlers.slack.app import BotServer
from handlers.slack.settings import SlackSettings
from kubesim.admission.podsecurity import violations
from tests.deploy.conftest import (
    BOT_NAMESPACE,
    DEPLOY,
    OVERLAYS,
    PLACEHOLDER,
    REPO,
    SECRET_TEMPLATE,
    Obj,
    bot_container,
    bot_deployment,
    of_kind,
    one,
    secret_template,
    settings_configmap,
)

VERSIONS = tuple(f"1.{minor}" for minor in range(25, 35))
# Real Slack credentials: bot/user tokens (xoxb-123-456-abc), app-level tokens
# (xapp-1-A0B1-123-abc…), signing secrets (32 hex digits).
REAL_TOKEN = re.compile(r"xox[abposr]-\d+-|xapp-\d-[A-Z0-9]+-|\b[0-9a-f]{32}\b")


def pod_template(docs: list[Obj]) -> Obj:
    return {
        "metadata": {"name": "jdebug"},
        "spec": bot_deployment(docs)["spec"]["template"]["spec"],
    }


def known_env_names() -> set[str]:
    """Every JDEBUG_* variable the bot reads: the Settings fields and direct os.environ reads."""
    names = {
        env_name(model, field)
        for model in (JdebugSettings, SlackSettings)
        for field in model.model_fields
    }
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
def test_pods_tell_prometheus_to_scrape_metrics_on_the_health_port(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    docs = rendered[overlay]
    annotations = bot_deployment(docs)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    health = settings_configmap(docs)["data"]["JDEBUG_HEALTH_PORT"]
    assert annotations["prometheus.io/port"] == health
    assert '"/metrics"' in inspect.getsource(BotServer._start)


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
    core = JdebugSettings(_env_file=None)  # type: ignore[call-arg]
    slack = SlackSettings(_env_file=None)  # type: ignore[call-arg]
    assert slack.slack_mode == mode
    assert slack.problems(core) == []
    # Default deny: the shipped settings admit nobody until the operator lists someone.
    someone = Request("jps", requester=Requester("slack", "U012AB3CD", "C012AB3CD"))
    assert not slack.allow_list().judge(someone).allowed
    order = core.strategies
    assert set(order) <= set(DEFAULT_ORDER)
    assert ("node" in order) is node


def test_debug_image_default_is_the_minimal_image_the_release_publishes(
    rendered: dict[str, list[Obj]],
) -> None:
    """The ConfigMap, the code and the bot image agree on the debug image, and the release
    workflow builds that image and hands the bot image its digest."""
    data = settings_configmap(rendered["socket-mode"])["data"]
    default = KubeSettings().debug_image
    assert data["JDEBUG_DEBUG_IMAGE"] == default
    bot = (DEPLOY / "Dockerfile").read_text()
    assert f"ARG DEBUG_IMAGE={default}" in bot and "JDEBUG_DEBUG_IMAGE=${DEBUG_IMAGE}" in bot
    release = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    steps = {s.get("id"): s for s in release["jobs"]["images"]["steps"] if s.get("id")}
    assert steps["debug"]["with"]["file"] == "deploy/debug-image/Dockerfile"
    assert (
        "DEBUG_IMAGE=${{ steps.meta.outputs.debug }}@${{ steps.debug.outputs.digest }}"
        in (steps["bot"]["with"]["build-args"])
    )
    assert default.rpartition(":")[0].rpartition("/")[2] == "jdebug-debug"


def test_bot_image_carries_the_attach_helper_for_both_architectures() -> None:
    bot = (DEPLOY / "Dockerfile").read_text()
    for arch in ("amd64", "arm64"):
        assert f"FROM --platform=linux/{arch} ${{DEBIAN_IMAGE}} AS helper-{arch}" in bot
        assert f"/usr/local/lib/jdebug/jdebug-attach-{arch}" in bot
    setting = env_name(JdebugSettings, "attach_helper_dir")
    assert f"{setting}=/usr/local/lib/jdebug" in bot


# -- the Secret template -------------------------------------------------------------------


def test_secret_template_holds_placeholders_for_the_tokens_the_bot_reads() -> None:
    values = secret_template()["stringData"]
    slack_fields = ("slack_bot_token", "slack_app_token", "slack_signing_secret")
    assert set(values) == {env_name(SlackSettings, f) for f in slack_fields}
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
    node_on = "node" in settings_configmap(rendered[overlay])["data"]["JDEBUG_STRATEGIES"]
    # hostPID node pods are admitted only by `privileged`.
    assert node_on == (enforce == "privileged")
