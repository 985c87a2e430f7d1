"""PodSecurity's `warn` and `audit` levels and its warning about existing pods, as kubectl shows
them, with the texts of staging/src/k8s.io/pod-security-admission/admission/admission.go:

- EvaluatePod: `would violate PodSecurity "<level:version>": <reasons with details>` as a
  Warning (299) on an allowed pod create or ephemeral-containers update, never on a refused
  one; the audit level's text as the audit annotation `pod-security.kubernetes.io/
  audit-violations`, beside `pod-security.kubernetes.io/enforce-policy`;
- ValidatePodController: a Deployment's template is warned and audited about, never refused;
- ValidateNamespace/EvaluatePodsInNamespace: raising a namespace's enforce level warns
  `existing pods in namespace "<ns>" violate the new PodSecurity enforce level "<lv>"`, then one
  line per distinct set of reasons (no details), naming the lexically first pod and how many
  others share them.

kubesim's audit trail is its one log line per request, which carries the annotations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, kubectl, raw_with_headers

RESTRICTED_REASONS = (
    'allowPrivilegeEscalation != false (container "app" must set '
    "securityContext.allowPrivilegeEscalation=false), "
    'unrestricted capabilities (container "app" must set securityContext.capabilities.drop='
    '["ALL"]), '
    'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), '
    'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to '
    '"RuntimeDefault" or "Localhost")'
)
WOULD_VIOLATE = f'would violate PodSecurity "restricted:latest": {RESTRICTED_REASONS}'


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        yield running


def namespace(sim: KubeSim, name: str, **labels: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {f"pod-security.kubernetes.io/{k}": v for k, v in labels.items()},
        },
    }
    status, _, _ = raw_with_headers(sim, "POST", "/api/v1/namespaces", body)
    assert status == 201


def root_pod(name: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "jdebug.local/busybox",
                    "command": ["sleep", "600"],
                    **container,
                }
            ]
        },
    }


def test_kubectl_prints_the_warn_levels_warning_and_the_pod_is_created(sim: KubeSim) -> None:
    namespace(sim, "warned", warn="restricted")
    out = kubectl(sim, "apply", "-n", "warned", "-f", "-", stdin=json.dumps(root_pod("web")))
    assert out.returncode == 0, out.stderr
    assert out.stderr == f"Warning: {WOULD_VIOLATE}\n"
    assert out.stdout == "pod/web created\n"


def test_the_warning_is_a_299_header(sim: KubeSim) -> None:
    namespace(sim, "headers", warn="restricted", **{"warn-version": "v1.30"})
    status, _, headers = raw_with_headers(
        sim, "POST", "/api/v1/namespaces/headers/pods", root_pod("web")
    )
    assert status == 201
    expected = WOULD_VIOLATE.replace("restricted:latest", "restricted:v1.30")
    assert headers.get_all("Warning") == [f"299 - {json.dumps(expected)}"]


def test_a_pod_the_enforce_level_refuses_gets_no_warning(sim: KubeSim) -> None:
    namespace(sim, "both", enforce="baseline", warn="restricted")
    privileged = root_pod("root", securityContext={"privileged": True})
    status, body, headers = raw_with_headers(
        sim, "POST", "/api/v1/namespaces/both/pods", privileged
    )
    assert status == 403
    assert body["message"].startswith('pods "root" is forbidden: violates PodSecurity "baseline')
    assert headers.get_all("Warning") is None
    status, _, headers = raw_with_headers(
        sim, "POST", "/api/v1/namespaces/both/pods", root_pod("ok")
    )
    assert status == 201
    assert headers.get_all("Warning") == [f"299 - {json.dumps(WOULD_VIOLATE)}"]


def test_adding_a_debug_container_is_warned_about_with_the_whole_pod(sim: KubeSim) -> None:
    namespace(sim, "debugged", warn="baseline")
    path = "/api/v1/namespaces/debugged/pods"
    assert raw_with_headers(sim, "POST", path, root_pod("app"))[0] == 201
    patch = {
        "spec": {
            "ephemeralContainers": [
                {
                    "name": "dbg",
                    "image": "jdebug.local/busybox",
                    "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
                }
            ]
        }
    }
    status, _, headers = raw_with_headers(
        sim,
        "PATCH",
        f"{path}/app/ephemeralcontainers",
        patch,
        "application/strategic-merge-patch+json",
    )
    assert status == 200
    assert headers.get_all("Warning") == [
        "299 - "
        + json.dumps(
            'would violate PodSecurity "baseline:latest": non-default capabilities '
            '(container "dbg" must not include "SYS_PTRACE" in securityContext.capabilities.add)'
        )
    ]


def root_deployment() -> dict[str, Any]:
    """A Deployment (of no replicas) whose pods would run as root."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": root_pod("x")["spec"]},
        },
    }


def test_a_deployment_template_is_warned_about_but_never_refused(sim: KubeSim) -> None:
    namespace(sim, "templated", enforce="restricted", warn="restricted")
    out = kubectl(sim, "create", "-n", "templated", "-f", "-", stdin=json.dumps(root_deployment()))
    assert out.returncode == 0, out.stderr
    assert out.stderr == f"Warning: {WOULD_VIOLATE}\n"


def test_only_enforce_set_means_no_template_warning(sim: KubeSim) -> None:
    namespace(sim, "enforced", enforce="restricted")
    out = kubectl(sim, "create", "-n", "enforced", "-f", "-", stdin=json.dumps(root_deployment()))
    assert (out.returncode, out.stderr) == (0, "")


def test_raising_the_enforce_level_warns_about_the_pods_already_there(sim: KubeSim) -> None:
    namespace(sim, "shop")
    path = "/api/v1/namespaces/shop/pods"
    for name in ("b-web", "a-web"):
        assert raw_with_headers(sim, "POST", path, root_pod(name))[0] == 201
    escalate = root_pod("c-priv", securityContext={"privileged": True})
    assert raw_with_headers(sim, "POST", path, escalate)[0] == 201
    label = ("label", "namespace", "shop", "pod-security.kubernetes.io/enforce=restricted")
    preview = kubectl(sim, *label, "--dry-run=server")
    header = (
        'Warning: existing pods in namespace "shop" violate the new PodSecurity enforce level '
        '"restricted:latest"\n'
    )
    lines = (
        "Warning: a-web (and 1 other pod): allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile\n"
        "Warning: c-priv: privileged, allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile\n"
    )
    assert preview.stderr == header + lines
    assert preview.stdout == "namespace/shop labeled (server dry run)\n"
    out = kubectl(sim, *label)
    assert (out.stderr, out.stdout) == (header + lines, "namespace/shop labeled\n")
    relax = kubectl(
        sim,
        "label",
        "namespace",
        "shop",
        "pod-security.kubernetes.io/enforce=baseline",
        "--overwrite",
    )
    assert (relax.returncode, relax.stderr) == (0, "")


def test_audit_annotations_go_with_the_requests_log_line(sim: KubeSim) -> None:
    namespace(sim, "audited", enforce="baseline", audit="restricted")
    with capture_logs() as logs:
        status, _, headers = raw_with_headers(
            sim, "POST", "/api/v1/namespaces/audited/pods", root_pod("web")
        )
    assert status == 201 and headers.get_all("Warning") is None
    (entry,) = [e for e in logs if e["event"] == "request" and e.get("method") == "POST"]
    assert entry["annotations"] == {
        "pod-security.kubernetes.io/enforce-policy": "baseline:latest",
        "pod-security.kubernetes.io/audit-violations": WOULD_VIOLATE,
    }
