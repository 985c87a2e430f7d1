"""Impersonation settings at start: the identity table is checked when `jdebug serve` starts,
and any mistake (a bad table, impersonation without a cluster) stops it with one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.access.impersonation import ImpersonationError, load_identity_table
from bot.model.identity import KubeIdentity
from tests.slack.test_serve_process import clean_env, serve_sync


def table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "identities.yaml"
    path.write_text(text)
    return path


def test_table_maps_slack_ids_to_users_and_groups(tmp_path: Path) -> None:
    loaded = load_identity_table(
        table(
            tmp_path,
            "users:\n"
            "  U0ALICE001: {user: alice@example.com, groups: [sre, oncall]}\n"
            "  U0BOB00002: {user: bob@example.com}\n",
        )
    )
    assert loaded.get("U0ALICE001") == KubeIdentity("alice@example.com", ("sre", "oncall"))
    assert loaded.get("U0BOB00002") == KubeIdentity("bob@example.com")
    assert loaded.get("U0CAROL003") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- alice\n", "needs a `users:` mapping"),
        ("users:\n  U1: {groups: [sre]}\n", "users.U1: needs `user:`"),
        ("users:\n  U1: {user: a, groups: sre}\n", "users.U1: `groups:` must be a list"),
        ("users:\n  U1: {user: a, group: [sre]}\n", "users.U1: unknown keys group"),
        ("users: [\n", "is not valid YAML"),
    ],
)
def test_a_wrong_table_is_one_sentence_naming_the_entry(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ImpersonationError) as wrong:
        load_identity_table(table(tmp_path, text))
    assert says in wrong.value.message and "\n" not in wrong.value.message


def _serve(tmp_path: Path, **settings: str) -> tuple[int, str]:
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        JDEBUG_HEALTH_PORT="0",
        **settings,
    )
    proc = serve_sync(env, tmp_path)
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stderr.strip().splitlines()[-1]


def test_serve_with_a_wrong_table_exits_2_naming_it(tmp_path: Path) -> None:
    path = table(tmp_path, "users:\n  U1: {groups: [sre]}\n")
    code, line = _serve(
        tmp_path, JDEBUG_IMPERSONATION="table", JDEBUG_IMPERSONATION_TABLE=str(path)
    )
    assert code == 2 and f"{path}, users.U1" in line


def test_serve_with_impersonation_but_no_cluster_exits_2(tmp_path: Path) -> None:
    code, line = _serve(tmp_path, JDEBUG_IMPERSONATION="email")
    assert code == 2
    assert line == (
        "jdebug serve: JDEBUG_IMPERSONATION=email needs a Kubernetes cluster, but jdebug found "
        "no kubeconfig or in-cluster configuration"
    )
