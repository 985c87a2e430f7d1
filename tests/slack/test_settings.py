"""Settings of `jdebug run` and `serve` (environment and .env), the allow-list rule, and the
documents that describe them: .env.example, deploy/base/settings.env, the README and the
Slack app manifest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from bot.model.request import Request, Requester
from bot.settings import JdebugSettings, env_name
from handlers.slack.settings import SlackSettings
from scripts.settings_reference import SETTINGS_ENV, env_example, render_readme, settings_env
from tests.support.jvms import REPO
from tests.support.settings import serve_settings

ENV_EXAMPLE = REPO / ".env.example"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "JDEBUG_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_env_example_settings_env_and_readme_are_generated_from_the_settings() -> None:
    assert ENV_EXAMPLE.read_text() == env_example(), "run `make settings`"
    assert SETTINGS_ENV.read_text() == settings_env(), "run `make settings`"
    readme = (REPO / "README.md").read_text()
    assert readme == render_readme(readme), "run `make settings`"
    for model in (JdebugSettings, SlackSettings):
        for field in model.model_fields:
            assert f"\n{env_name(model, field)}=" in ENV_EXAMPLE.read_text(), field


def test_a_copied_env_example_starts_from_the_defaults(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(ENV_EXAMPLE.read_text())
    core, slack = JdebugSettings(), SlackSettings()
    assert core == JdebugSettings(_env_file=None)  # type: ignore[call-arg]
    assert slack == SlackSettings(_env_file=None)  # type: ignore[call-arg]
    assert core.local_java_home is None
    assert core.strategies == ("exec", "sidecar", "ephemeral", "node")
    assert slack.slack_api_url == "https://slack.com/api/"
    assert slack.allowed_users == () and slack.allowed_channels == ()


def test_lists_are_comma_separated_and_trimmed(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JDEBUG_ALLOWED_USERS", " U0ALICE001 ,U0BOB00002,, ")
    monkeypatch.setenv("JDEBUG_ALLOWED_CHANNELS", "C0OPS00001")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    settings = SlackSettings()
    assert settings.allowed_users == ("U0ALICE001", "U0BOB00002")
    assert settings.allowed_channels == ("C0OPS00001",)
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"


@pytest.mark.parametrize(
    ("users", "channels", "user", "channel", "allowed"),
    [
        ((), (), "U1", "C1", False),
        (("U1",), (), "U1", "C9", True),
        (("U1",), (), "U2", "C9", False),
        ((), ("C1",), "U2", "C1", True),
        ((), ("C1",), "U2", "C2", False),
        ((), ("C1",), "U2", None, False),
        (("*",), (), "U7", "C7", True),
        ((), ("*",), "U7", "C7", True),
    ],
)
def test_allow_list_admits_listed_users_or_anyone_in_listed_channels(
    users: tuple[str, ...], channels: tuple[str, ...], user: str, channel: str | None, allowed: bool
) -> None:
    settings = SlackSettings(_env_file=None, allowed_users=users, allowed_channels=channels)  # type: ignore[call-arg]
    request = Request("jps", requester=Requester("slack", user, channel))
    assert settings.allow_list().judge(request).allowed is allowed


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({}, ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]),
        ({"slack_bot_token": "xoxb-1"}, ["SLACK_APP_TOKEN"]),
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xoxb-2"}, ["SLACK_APP_TOKEN"]),
        ({"slack_bot_token": "xapp-1", "slack_app_token": "xapp-2"}, ["SLACK_BOT_TOKEN"]),
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-2"}, []),
        ({"slack_mode": "http", "slack_bot_token": "xoxb-1"}, ["SLACK_SIGNING_SECRET"]),
        ({"slack_mode": "http", "slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}, []),
        (
            {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-2", "impersonation": "table"},
            ["JDEBUG_IMPERSONATION=table"],
        ),
    ],
)
def test_serve_problems_name_exactly_the_variables_to_fix(
    clean_environment: Path, values: dict[str, str], named: list[str]
) -> None:
    core, slack = serve_settings(**values)
    problems = slack.problems(core)
    assert [p.split()[0] for p in problems] == named


def test_app_manifest_declares_what_the_bot_uses() -> None:
    manifest = yaml.safe_load((REPO / "deploy" / "slack-app-manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/jdebug" and "help" in command["usage_hint"]
    assert {"commands", "chat:write", "files:write", "files:read", "usergroups:read"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
    (shortcut,) = manifest["features"]["shortcuts"]
    assert shortcut["type"] == "message" and shortcut["callback_id"] == "jdebug_analyse"
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    # Reading e-mails is only for JDEBUG_IMPERSONATION=email: an opt-in, not a default scope.
    assert "users:read.email" not in manifest["oauth_config"]["scopes"]["bot"]


def test_lease_timing_defaults_are_the_electors_and_must_be_ordered(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = JdebugSettings(_env_file=None)  # type: ignore[call-arg]
    assert (
        settings.lease_duration_seconds,
        settings.lease_renew_deadline_seconds,
        settings.lease_retry_period_seconds,
    ) == (15, 10, 2)
    monkeypatch.setenv("JDEBUG_LEASE_DURATION_SECONDS", "4")
    monkeypatch.setenv("JDEBUG_LEASE_RENEW_DEADLINE_SECONDS", "2.5")
    monkeypatch.setenv("JDEBUG_LEASE_RETRY_PERIOD_SECONDS", "0.5")
    short = JdebugSettings(_env_file=None)  # type: ignore[call-arg]
    assert (short.lease_duration_seconds, short.lease_renew_deadline_seconds) == (4, 2.5)
    assert short.lease_retry_period_seconds == 0.5
    monkeypatch.setenv("JDEBUG_LEASE_RENEW_DEADLINE_SECONDS", "4")
    with pytest.raises(ValueError, match="JDEBUG_LEASE_RENEW_DEADLINE_SECONDS <"):
        JdebugSettings(_env_file=None)  # type: ignore[call-arg]
