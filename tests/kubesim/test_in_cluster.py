"""Pods get the ordinary in-cluster configuration: a ServiceAccount token volume, the
`KUBERNETES_SERVICE_*` variables and env from ConfigMaps, Secrets and the downward API.

Probes run the bot image's own Python (`jdebug:0.1.0` with `python -c`) as uid 10001; the last
test loads the rendered `socket-mode` overlay and watches the real `jdebug serve` start in a pod.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, core, kubectl, needs_root, raw, wait_for

pytestmark = needs_root

REPO = Path(__file__).resolve().parents[2]
NS = "incluster"
BOT_IMAGE = "jdebug:0.1.0"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
Obj = dict[str, Any]

SA_PROBE = f"""
import json, os
d = {SA_DIR!r}
out = {{"files": sorted(os.listdir(d)) if os.path.isdir(d) else None, "uid": os.getuid()}}
if out["files"]:
    for name in ("token", "ca.crt", "namespace"):
        out[name] = open(f"{{d}}/{{name}}").read()
    try:
        open(f"{{d}}/token", "a").write("x")
        out["write"] = "allowed"
    except OSError as error:
        out["write"] = error.strerror
mounts = [line.split()[4:6] for line in open("/proc/self/mountinfo")]
out["mounts"] = [m for m in mounts if "serviceaccount" in m[0]]
out["service"] = [os.environ.get(f"KUBERNETES_SERVICE_{{k}}") for k in ("HOST", "PORT")]
print(json.dumps(out))
"""

CLIENT_PROBE = """
import json
from kubernetes import client, config
config.load_incluster_config()
api = client.CoreV1Api()
out = {"listed": [p.metadata.name for p in api.list_namespaced_pod("incluster").items]}
try:
    api.list_namespaced_pod("default")
    out["default"] = "allowed"
except client.ApiException as error:
    out["default"] = [error.status, json.loads(error.body)["message"]]
print(json.dumps(out))
"""

ENV_PROBE = "import json, os; print(json.dumps(dict(os.environ)))"

WRITE_PROBE = """
import json, os
out = {"root_ro": bool(os.statvfs("/").f_flag & os.ST_RDONLY)}
for folder in ("/opt", "/tmp"):
    try:
        open(f"{folder}/probe", "w").write("x")
        out[folder] = "written"
    except OSError as error:
        out[folder] = error.strerror
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def incluster() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "in_cluster.yaml"]) as running:
        yield running


def probe_pod(name: str, code: str, account: str = "reader", **extra: Any) -> Obj:
    container = {"name": "probe", "image": BOT_IMAGE, "command": ["python", "-c", code]}
    container.update(extra.pop("container", {}))
    spec = {
        "serviceAccountName": account,
        "restartPolicy": "Never",
        "securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "runAsNonRoot": True},
        "containers": [container],
        **extra,
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def pod_json(sim: KubeSim, name: str, namespace: str = NS) -> Obj:
    status, pod = raw(sim, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    assert status == 200, pod
    return dict(pod)


def container_state(pod: Obj) -> Obj:
    statuses = pod["status"].get("containerStatuses") or [{}]
    return dict(statuses[0].get("state") or {})


def create(sim: KubeSim, pod: Obj) -> None:
    status, answer = raw(sim, "POST", f"/api/v1/namespaces/{NS}/pods", pod)
    assert status == 201, answer


def delete(sim: KubeSim, name: str) -> None:
    raw(sim, "DELETE", f"/api/v1/namespaces/{NS}/pods/{name}", {"gracePeriodSeconds": 0})


def run_probe(sim: KubeSim, pod: Obj) -> Obj:
    """Create the pod, wait for it to finish and return the JSON its probe printed (plus
    `pod_uid`, the uid the apiserver gave the pod)."""
    name = pod["metadata"]["name"]
    create(sim, pod)

    def ended() -> Any:
        state = container_state(pod_json(sim, name))
        assert (state.get("waiting") or {}).get("reason") != "CreateContainerConfigError", state
        return state.get("terminated")

    try:
        ended_state = wait_for(ended, 30, f"{name} to end")
        log = str(core(sim).read_namespaced_pod_log(name, NS))
        uid = pod_json(sim, name)["metadata"]["uid"]
    finally:
        delete(sim, name)
    assert ended_state["exitCode"] == 0, log
    out: Obj = json.loads(log.strip().splitlines()[-1])
    return {**out, "pod_uid": uid}


def https_status(sim: KubeSim, token: str, path: str) -> tuple[int, Obj]:
    request = urllib.request.Request(sim.url + path, headers={"Authorization": f"Bearer {token}"})
    context = ssl.create_default_context(cafile=str(sim.certs.ca_cert))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_token_ca_and_namespace_are_mounted_read_only_inside_the_container_only(
    incluster: KubeSim,
) -> None:
    seen = run_probe(incluster, probe_pod("sa-files", SA_PROBE))
    assert seen["uid"] == 10001
    assert seen["files"] == ["ca.crt", "namespace", "token"]
    assert seen["namespace"] == NS
    assert seen["ca.crt"] == incluster.certs.ca_cert.read_text()
    assert seen["write"] != "allowed"
    assert [point for point, options in seen["mounts"]] == [
        "/run/secrets/kubernetes.io/serviceaccount"
    ]
    assert seen["mounts"][0][1].startswith("ro")
    assert seen["service"] == ["127.0.0.1", str(incluster.port)]
    # The token is the ServiceAccount's: the apiserver applies that account's RBAC to it.
    status, _ = https_status(incluster, seen["token"], f"/api/v1/namespaces/{NS}/pods")
    assert status == 200
    status, denied = https_status(incluster, seen["token"], "/api/v1/namespaces/default/pods")
    assert status == 403
    assert f'User "system:serviceaccount:{NS}:reader"' in denied["message"]
    # Nothing of it leaked onto the host.
    host_mounts = Path("/proc/self/mountinfo").read_text()
    assert str(incluster.state_dir) not in host_mounts
    host_token = Path(SA_DIR) / "token"
    assert not host_token.exists() or host_token.read_text() != seen["token"]


def test_official_client_in_cluster_config_acts_as_the_service_account(
    incluster: KubeSim,
) -> None:
    seen = run_probe(incluster, probe_pod("client", CLIENT_PROBE))
    assert "client" in seen["listed"]
    assert seen["default"] == [
        403,
        f'pods is forbidden: User "system:serviceaccount:{NS}:reader" cannot list resource '
        '"pods" in API group "" in the namespace "default"',
    ]


def test_env_comes_from_configmaps_secrets_the_downward_api_and_env_from(
    incluster: KubeSim,
) -> None:
    def key_ref(kind: str, name: str, key: str, optional: bool = False) -> Obj:
        ref = {"name": name, "key": key, **({"optional": True} if optional else {})}
        return {kind: ref}

    def field(path: str) -> Obj:
        return {"fieldRef": {"fieldPath": path}}

    env = [
        {"name": "GREETING", "valueFrom": key_ref("configMapKeyRef", "settings", "GREETING")},
        {"name": "PASSWORD", "valueFrom": key_ref("secretKeyRef", "creds", "PASSWORD")},
        {"name": "KEY", "valueFrom": key_ref("secretKeyRef", "creds", "API_KEY")},
        {"name": "GONE", "valueFrom": key_ref("configMapKeyRef", "absent", "X", optional=True)},
        {"name": "NOKEY", "valueFrom": key_ref("secretKeyRef", "creds", "NOPE", optional=True)},
        {"name": "POD_NAME", "valueFrom": field("metadata.name")},
        {"name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace")},
        {"name": "POD_UID", "valueFrom": field("metadata.uid")},
        {"name": "NODE", "valueFrom": field("spec.nodeName")},
        {"name": "POD_IP", "valueFrom": field("status.podIP")},
        {"name": "ACCOUNT", "valueFrom": field("spec.serviceAccountName")},
        # env overrides envFrom, and may refer to variables defined before it.
        {"name": "MODE", "value": "slow"},
        {"name": "URL", "value": "http://$(POD_IP):8080/$(POD_NAME)"},
    ]
    env_from = [
        {"configMapRef": {"name": "settings"}},
        {"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
        {"secretRef": {"name": "creds"}, "prefix": "S_"},
        {"secretRef": {"name": "absent", "optional": True}},
    ]
    pod = probe_pod("env", ENV_PROBE, container={"env": env, "envFrom": env_from})
    seen = run_probe(incluster, pod)
    assert seen["GREETING"] == seen["CFG_GREETING"] == "hello from a configmap"
    assert seen["PASSWORD"] == seen["S_PASSWORD"] == "s3cret-value"
    assert seen["KEY"] == seen["S_API_KEY"] == "plain-api-key"
    assert "GONE" not in seen and "NOKEY" not in seen
    assert (seen["MODE"], seen["CFG_MODE"]) == ("slow", "fast")
    assert seen["POD_NAME"] == "env"
    assert seen["POD_NAMESPACE"] == NS
    assert seen["POD_UID"] == seen["pod_uid"]
    assert seen["NODE"] == "kubesim"
    assert seen["POD_IP"] == "127.0.0.1"
    assert seen["ACCOUNT"] == "reader"
    assert seen["URL"] == "http://127.0.0.1:8080/env"
    assert seen["KUBERNETES_SERVICE_PORT"] == str(incluster.port)


def one_ref(source: str, name: str, key: str) -> Obj:
    return {"env": [{"name": "X", "valueFrom": {source: {"name": name, "key": key}}}]}


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"envFrom": [{"configMapRef": {"name": "absent"}}]}, 'configmap "absent" not found'),
        ({"envFrom": [{"secretRef": {"name": "absent"}}]}, 'secret "absent" not found'),
        (
            one_ref("configMapKeyRef", "settings", "NOPE"),
            f"couldn't find key NOPE in ConfigMap {NS}/settings",
        ),
        (one_ref("secretKeyRef", "hidden", "K"), 'secret "hidden" not found'),
        (one_ref("secretKeyRef", "creds", "K"), f"couldn't find key K in Secret {NS}/creds"),
    ],
)
def test_missing_config_keeps_the_container_waiting_with_create_container_config_error(
    incluster: KubeSim, container: Obj, message: str
) -> None:
    name = "missing-config"
    create(incluster, probe_pod(name, ENV_PROBE, container=container))

    def config_error() -> Any:
        waiting = container_state(pod_json(incluster, name)).get("waiting") or {}
        return waiting if waiting.get("reason") == "CreateContainerConfigError" else None

    try:
        waiting = wait_for(config_error, 15, "CreateContainerConfigError")
        assert waiting["message"] == message
        pod = pod_json(incluster, name)
        assert pod["status"]["phase"] == "Pending"
        assert "containerID" not in pod["status"]["containerStatuses"][0]
    finally:
        delete(incluster, name)
        wait_for(lambda: raw(incluster, "GET", f"/api/v1/namespaces/{NS}/pods/{name}")[0] == 404)


@pytest.mark.parametrize(
    ("account", "pod_says", "mounted"),
    [
        ("reader", False, False),  # the pod opts out
        ("quiet", None, False),  # its ServiceAccount opts out
        ("default", None, False),  # so does the namespace's `default`, as the manifest says
        ("quiet", True, True),  # the pod's own setting wins over its ServiceAccount's
    ],
)
def test_automount_service_account_token_false_leaves_no_token(
    incluster: KubeSim, account: str, pod_says: bool | None, mounted: bool
) -> None:
    extra = {} if pod_says is None else {"automountServiceAccountToken": pod_says}
    seen = run_probe(incluster, probe_pod(f"automount-{account}", SA_PROBE, account, **extra))
    assert (seen["files"] is not None) == mounted
    assert bool(seen["mounts"]) == mounted
    # The service variables do not depend on the token.
    assert seen["service"] == ["127.0.0.1", str(incluster.port)]


def test_configmaps_and_secrets_are_served_under_rbac(incluster: KubeSim) -> None:
    status, secret = raw(incluster, "GET", f"/api/v1/namespaces/{NS}/secrets/creds")
    assert status == 200
    # As the apiserver stores it: stringData folded into base64 data.
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["API_KEY"]) == b"plain-api-key"
    assert base64.b64decode(secret["data"]["PASSWORD"]) == b"s3cret-value"
    status, listed = raw(incluster, "GET", f"/api/v1/namespaces/{NS}/configmaps")
    assert status == 200
    assert [c["metadata"]["name"] for c in listed["items"]] == ["settings"]
    made = {"metadata": {"name": "extra"}, "stringData": {"TOKEN": "t0ken"}}
    status, stored = raw(incluster, "POST", f"/api/v1/namespaces/{NS}/secrets", made)
    assert status == 201, stored
    assert base64.b64decode(stored["data"]["TOKEN"]) == b"t0ken" and "stringData" not in stored
    status, gone = raw(incluster, "DELETE", f"/api/v1/namespaces/{NS}/secrets/extra")
    assert status == 200 and gone["status"] == "Success"
    assert gone["details"]["uid"] == stored["metadata"]["uid"]
    status, denied = raw(
        incluster, "GET", f"/api/v1/namespaces/{NS}/secrets/creds", identity=f"{NS}/reader"
    )
    assert status == 403
    assert denied["message"] == (
        f'secrets "creds" is forbidden: User "system:serviceaccount:{NS}:reader" cannot get '
        f'resource "secrets" in API group "" in the namespace "{NS}"'
    )
    shown = kubectl(incluster, "get", "configmaps,secrets", "-n", NS, check=True).stdout
    assert "configmap/settings" in shown and "secret/creds" in shown


@pytest.mark.parametrize(
    ("read_only", "tmp_volume", "tmp"),
    [
        (True, True, "written"),
        (False, False, "written"),
        # /tmp is part of the root filesystem: read-only too unless a volume is mounted
        # there, which is why deploy/base/deployment.yaml mounts an emptyDir at /tmp.
        (True, False, "Read-only file system"),
    ],
)
def test_read_only_root_filesystem_leaves_only_volumes_writable(
    incluster: KubeSim, read_only: bool, tmp_volume: bool, tmp: str
) -> None:
    # As root, so that only the mount (not file permissions) can refuse the write.
    security = {"readOnlyRootFilesystem": read_only, "runAsUser": 0, "runAsNonRoot": False}
    name = f"rootfs-{str(read_only).lower()}-{str(tmp_volume).lower()}"
    extra: dict[str, Any] = {}
    container: dict[str, Any] = {"securityContext": security}
    if tmp_volume:
        extra["volumes"] = [{"name": "tmp", "emptyDir": {}}]
        container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    seen = run_probe(incluster, probe_pod(name, WRITE_PROBE, container=container, **extra))
    assert seen["root_ro"] is read_only
    assert seen["/opt"] == ("Read-only file system" if read_only else "written")
    assert seen["/tmp"] == tmp


def kustomize(folder: Path) -> list[Obj]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is needed to render deploy/ (kubectl kustomize)")
    result = subprocess.run(
        [binary, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_rendered_socket_mode_overlay_runs_the_real_jdebug_serve_in_cluster(
    tmp_path: Path,
) -> None:
    docs = kustomize(REPO / "deploy" / "overlays" / "socket-mode")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    namespace = deployment["metadata"]["namespace"]
    bot = deployment["spec"]["template"]["spec"]["containers"][0]
    assert bot["image"] == BOT_IMAGE
    settings = next(d for d in docs if d["kind"] == "ConfigMap")
    # kubesim's pods share the host's network: two replicas cannot both bind the health port.
    settings["data"]["JDEBUG_HEALTH_PORT"] = "0"
    # A bound port nobody listens on: connecting to it is refused at once.
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))
        slack_url = f"http://127.0.0.1:{nobody.getsockname()[1]}/api/"
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "jdebug-slack", "namespace": namespace},
            "stringData": {
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_APP_TOKEN": "xapp-test",
                "SLACK_API_URL": slack_url,
            },
        }
        manifest = tmp_path / "socket-mode.yaml"
        manifest.write_text(yaml.safe_dump_all([*docs, secret]))
        with KubeSim(manifests=[manifest]) as sim:
            _, pods = raw(sim, "GET", f"/api/v1/namespaces/{namespace}/pods")
            names = [p["metadata"]["name"] for p in pods["items"]]
            assert len(names) == deployment["spec"]["replicas"] == 2
            # `jdebug serve` loads the in-cluster configuration before it dials Slack (without
            # the token it dies there instead), and the URL comes from the Secret's env.
            sentence = f"jdebug serve: could not reach Slack at {slack_url}: "
            for name in names:
                log = said(core(sim), name, namespace, sentence)
                assert "Traceback" not in log

                def ended(name: str = name) -> Any:
                    status = pod_json(sim, name, namespace)["status"]["containerStatuses"][0]
                    return status["state"].get("terminated") or status["lastState"].get(
                        "terminated"
                    )

                assert wait_for(ended, 10, f"{name} to exit")["exitCode"] == 1


def said(api: client.CoreV1Api, name: str, namespace: str, text: str) -> str:
    """The log (current or previous instance: the Deployment restarts it) holding `text`."""

    def check() -> str:
        for previous in (False, True):
            try:
                out = str(api.read_namespaced_pod_log(name, namespace, previous=previous))
            except client.ApiException:
                continue
            if text in out:
                return out
        return ""

    return str(wait_for(check, 30, f"{text!r} in the log of {name}"))
