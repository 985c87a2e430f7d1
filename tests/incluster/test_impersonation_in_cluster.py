"""The rendered `impersonation` overlay running as `jdebug serve` pods in kubesim (in-cluster
credentials, the component's ClusterRole with its placeholders filled in), in e-mail mode:
each Slack user's command runs as their Slack e-mail, and the cluster's RBAC decides.
kubesim mounts no ConfigMap volumes, so the table mode's file is left out here (the Slack
tests cover the table). Needs root (kubesim runs pods in Linux namespaces)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from tests.fakeslack import FakeSlack
from tests.fakeslack.scopes import manifest_scopes
from tests.incluster.test_bot_in_cluster import APPS, rendered_overlay

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kubesim needs root for namespaces")
ALICE, BOB = "U0ALICE001", "U0BOB00002"  # the fake workspace's alice@ and bob@example.com

PEOPLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: jvm-debugger}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
- {apiGroups: [""], resources: [namespaces], verbs: [get]}
- {apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [patch]}
- {apiGroups: [""], resources: [pods/attach], verbs: [get, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: jvm-debuggers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: jvm-debugger}
subjects: [{kind: User, name: alice@example.com}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-viewer}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: pod-viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-viewer}
subjects: [{kind: User, name: bob@example.com}]
"""


def impersonating_install(slack: FakeSlack) -> list[dict[str, Any]]:
    docs = rendered_overlay(slack, "impersonation")
    settings = next(
        d for d in docs if d["kind"] == "ConfigMap" and "JDEBUG_SLACK_MODE" in d["data"]
    )
    # rendered_overlay edits the first ConfigMap it finds; here that is the identity table's.
    settings["data"].update(
        {"JDEBUG_IMPERSONATION": "email", "JDEBUG_ALLOWED_USERS": "*", "JDEBUG_HEALTH_PORT": "0"}
    )
    settings["data"].pop("JDEBUG_IMPERSONATION_TABLE")
    role = next(d for d in docs if d["metadata"]["name"] == "jdebug-impersonate" and "rules" in d)
    for rule in role["rules"]:
        names = {"users": ["alice@example.com", "bob@example.com"], "groups": ["sre"]}
        rule["resourceNames"] = names[rule["resources"][0]]
    return docs


async def test_each_slack_user_runs_as_their_email_in_the_deployed_bot(tmp_path) -> None:
    # users.info with e-mail: the scopes the manifest's comment says to add for this mode.
    async with FakeSlack(scopes=manifest_scopes(impersonation=True)) as slack:
        manifest = tmp_path / "cluster.yaml"
        manifest.write_text(
            yaml.safe_dump_all(impersonating_install(slack)) + "---\n" + APPS + "---\n" + PEOPLE
        )
        with KubeSim(manifests=[manifest]):
            await slack.wait_for_connections(2, timeout=60)
            await slack.send_slash_command(text="threaddump pod=cowweb ns=apps", user_id=ALICE)
            files = await slack.wait_for(
                lambda s: [f for f in s.files.values() if f.completed], timeout=90
            )
            assert '"barn-door-holder"' in (files[0].data or b"").decode()

            await slack.send_slash_command(text="threaddump pod=cowweb ns=apps", user_id=BOB)

            def bobs_answer(s: FakeSlack) -> str | None:
                for message in s.top_level_messages():
                    blocks = str(message.blocks)
                    if f"<@{BOB}>" in blocks and "✖" in blocks:
                        return blocks
                return None

            told = await slack.wait_for(bobs_answer, timeout=60)
            assert "patch pods/ephemeralcontainers" in told
            assert 'as Kubernetes user "bob@example.com"' in told
            looked_up = {c.params.get("user") for c in slack.calls_to("users.info")}
            assert looked_up == {ALICE, BOB}
