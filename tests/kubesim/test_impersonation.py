"""Impersonation in kubesim, checked with kubectl `--as`/`--as-group` and raw HTTPS: the caller
needs `impersonate` on each user, group and ServiceAccount, is refused with the apiserver's own
403, and once allowed every request (RBAC, reviews, exec, logs) runs as the new identity."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import structlog

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, core, kubectl, needs_root, pod_running, raw

pytestmark = needs_root
BOT = "jdebug/jdebug"
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "impersonation.yaml"]) as running:
        yield running


def as_bot(sim: KubeSim, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """kubectl with jdebug's ServiceAccount credentials, in namespace default."""
    return kubectl(sim, "-n", "default", *args, identity=BOT, check=check)


def whoami(sim: KubeSim, *flags: str) -> dict[str, object]:
    out = as_bot(sim, "auth", "whoami", "-o", "json", *flags, check=True)
    info: dict[str, object] = json.loads(out.stdout)["status"]["userInfo"]
    return info


def can_i(sim: KubeSim, *args: str) -> str:
    return as_bot(sim, "auth", "can-i", *args).stdout.strip()


def test_the_bot_has_no_pod_rights_of_its_own(sim: KubeSim) -> None:
    out = as_bot(sim, "get", "pod", "cowweb")
    assert out.returncode != 0
    assert 'User "system:serviceaccount:jdebug:jdebug" cannot get resource "pods"' in out.stderr


def test_whoami_as_a_user_adds_system_authenticated(sim: KubeSim) -> None:
    assert whoami(sim) == {
        "username": "system:serviceaccount:jdebug:jdebug",
        "groups": [
            "system:serviceaccounts",
            "system:serviceaccounts:jdebug",
            "system:authenticated",
        ],
    }
    assert whoami(sim, "--as=alice@example.com") == {
        "username": "alice@example.com",
        "groups": ["system:authenticated"],
    }
    assert whoami(sim, "--as=bob@example.com", "--as-group=debuggers") == {
        "username": "bob@example.com",
        "groups": ["debuggers", "system:authenticated"],
    }


def test_whoami_as_a_service_account_gets_its_groups(sim: KubeSim) -> None:
    info = whoami(sim, "--as=system:serviceaccount:default:reader")
    assert info["username"] == "system:serviceaccount:default:reader"
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]


def test_rbac_and_access_reviews_judge_the_impersonated_user(sim: KubeSim) -> None:
    ephemeral = ("patch", "pods", "--subresource=ephemeralcontainers", "-n", "default")
    assert can_i(sim, *ephemeral, "--as=alice@example.com") == "yes"
    assert can_i(sim, *ephemeral, "--as=bob@example.com") == "no"
    assert can_i(sim, *ephemeral, "--as=bob@example.com", "--as-group=debuggers") == "yes"
    out = as_bot(sim, "get", "pod", "cowweb", "--as=bob@example.com", check=True)
    assert "cowweb" in out.stdout


def test_exec_and_logs_run_as_the_impersonated_user(sim: KubeSim) -> None:
    pod_running(core(sim), "cowweb")
    alice = as_bot(sim, "exec", "cowweb", "--as=alice@example.com", "--", "echo", "hi")
    assert (alice.returncode, alice.stdout) == (0, "hi\n"), alice.stderr
    bob = as_bot(sim, "exec", "cowweb", "--as=bob@example.com", "--", "echo", "hi")
    assert bob.returncode != 0
    # kubectl retries the refused websocket upgrade (a GET) over SPDY (a POST), and prints
    # that second refusal, of `create`.
    assert 'User "bob@example.com" cannot create resource "pods/exec"' in bob.stderr
    assert as_bot(sim, "logs", "cowweb", "--as=alice@example.com").returncode == 0
    logs = as_bot(sim, "logs", "cowweb", "--as=bob@example.com")
    assert 'User "bob@example.com" cannot get resource "pods/log"' in logs.stderr


def test_a_user_the_caller_may_not_impersonate_is_refused_as_the_apiserver_does(
    sim: KubeSim,
) -> None:
    status, body = raw(sim, "GET", PODS, identity=BOT, headers={"Impersonate-User": "carol@x.io"})
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'users "carol@x.io" is forbidden: User "system:serviceaccount:jdebug:jdebug" '
        'cannot impersonate resource "users" in API group "" at the cluster scope',
        "reason": "Forbidden",
        "details": {"name": "carol@x.io", "kind": "users"},
        "code": 403,
    }
    out = as_bot(sim, "get", "pods", "--as=carol@x.io")
    assert out.returncode != 0
    assert 'users "carol@x.io" is forbidden' in out.stderr


def test_a_caller_without_impersonate_cannot_become_anyone(sim: KubeSim) -> None:
    out = kubectl(sim, "get", "pods", "--as=alice@example.com", identity="default/reader")
    assert out.returncode != 0
    assert (
        'users "alice@example.com" is forbidden: User "system:serviceaccount:default:reader" '
        'cannot impersonate resource "users" in API group "" at the cluster scope'
    ) in out.stderr


def test_each_group_needs_its_own_grant(sim: KubeSim) -> None:
    headers = {"Impersonate-User": "bob@example.com", "Impersonate-Group": "admins"}
    status, body = raw(sim, "GET", PODS, identity=BOT, headers=headers)
    assert status == 403
    assert body["message"] == (
        'groups "admins" is forbidden: User "system:serviceaccount:jdebug:jdebug" '
        'cannot impersonate resource "groups" in API group "" at the cluster scope'
    )
    out = as_bot(
        sim, "get", "pods", "--as=bob@example.com", "--as-group=debuggers", "--as-group=admins"
    )
    assert 'groups "admins" is forbidden' in out.stderr


def test_a_service_account_is_impersonated_by_namespace_and_name(sim: KubeSim) -> None:
    out = as_bot(sim, "get", "pods", "--as=system:serviceaccount:default:default")
    assert (
        'serviceaccounts "default" is forbidden: User "system:serviceaccount:jdebug:jdebug" '
        'cannot impersonate resource "serviceaccounts" in API group "" in the namespace "default"'
    ) in out.stderr


def test_groups_without_a_user_are_the_apiservers_internal_error(sim: KubeSim) -> None:
    status, body = raw(
        sim, "GET", PODS + "?limit=1", identity=BOT, headers={"Impersonate-Group": "debuggers"}
    )
    assert status == 500
    assert body == (
        f'Internal Server Error: "{PODS}?limit=1": '
        "requested [{Group  debuggers    }] without impersonating a user\n"
    )


def test_uid_and_extra_need_grants_in_authentication_group(sim: KubeSim) -> None:
    headers = {"Impersonate-User": "alice@example.com", "Impersonate-Uid": "1234"}
    status, body = raw(sim, "GET", PODS, identity=BOT, headers=headers)
    assert status == 403
    assert body["message"] == (
        'uids.authentication.k8s.io "1234" is forbidden: User '
        '"system:serviceaccount:jdebug:jdebug" cannot impersonate resource "uids" in API group '
        '"authentication.k8s.io" at the cluster scope'
    )
    headers = {"Impersonate-User": "alice@example.com", "Impersonate-Extra-Scopes": "view"}
    status, body = raw(sim, "GET", PODS, identity=BOT, headers=headers)
    assert status == 403
    assert 'cannot impersonate resource "userextras/scopes"' in body["message"]


def test_an_admin_may_impersonate_anyone_and_pass_uid_and_extra(sim: KubeSim) -> None:
    info = json.loads(
        kubectl(
            sim,
            "auth",
            "whoami",
            "-o",
            "json",
            "--as=zed",
            "--as-uid=42",
            "--as-group=system:authenticated",
            "--as-group=ops",
            check=True,
        ).stdout
    )["status"]["userInfo"]
    assert info == {"username": "zed", "uid": "42", "groups": ["system:authenticated", "ops"]}


def test_request_log_names_the_caller_and_who_it_acts_as(sim: KubeSim) -> None:
    with structlog.testing.capture_logs() as logs:
        as_bot(sim, "get", "pod", "cowweb", "--as=bob@example.com", check=True)
    records = [r for r in logs if r.get("event") == "request" and "/pods/cowweb" in r["path"]]
    assert records, logs
    assert records[-1]["user"] == "system:serviceaccount:jdebug:jdebug"
    assert records[-1]["impersonated"] == "bob@example.com"
