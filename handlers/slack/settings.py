"""Slack's settings of `jdebug serve`: tokens, transport, who may use the bot without a policy
file. jdebug's own settings are `bot.settings.JdebugSettings`; both come from the environment
(and `.env`), are validated once at start, and are documented from these fields.

Slack's own variables keep Slack's conventional names (`SLACK_BOT_TOKEN`, …); jdebug's are
prefixed `JDEBUG_`. `problems()` names what `jdebug serve` needs but did not get, so it can
fail with one sentence.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.access.gate import AllowList
from bot.settings import ENV_PREFIX, JdebugSettings, env_name

CsvList = Annotated[tuple[str, ...], NoDecode]


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    slack_bot_token: str = Field(
        "",
        description="the Bot User OAuth Token (`xoxb-…`)",
        validation_alias=AliasChoices("SLACK_BOT_TOKEN"),
    )
    slack_app_token: str = Field(
        "",
        description="an app-level token with `connections:write` (`xapp-…`), Socket Mode",
        validation_alias=AliasChoices("SLACK_APP_TOKEN"),
    )
    slack_signing_secret: str = Field(
        "",
        description="the app's signing secret, HTTP mode",
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET"),
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description="Slack's Web API (a test double's, in tests)",
        validation_alias=AliasChoices("SLACK_API_URL"),
    )
    slack_mode: Literal["socket", "http"] = Field(
        "socket", description="`socket` (no ingress needed) or `http` (Events API)"
    )
    http_port: int = Field(
        3000, ge=0, le=65535, description="HTTP mode: where Slack's requests arrive (0: any)"
    )
    allowed_users: CsvList = Field(
        (),
        description="without a policy file: Slack user IDs who may use jdebug (`*`: everyone)",
    )
    allowed_channels: CsvList = Field(
        (),
        description="without a policy file: channel IDs where anyone may use jdebug",
    )
    group_cache_seconds: int = Field(
        300,
        ge=10,
        le=86_400,
        description="how long the members of a Slack user group named in the policy are "
        "remembered (`usergroups.users.list`)",
    )

    @field_validator("allowed_users", "allowed_channels", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    def allow_list(self) -> AllowList:
        return AllowList(
            frozenset(self.allowed_users),
            frozenset(self.allowed_channels),
            users_setting=env_name(SlackSettings, "allowed_users"),
            channels_setting=env_name(SlackSettings, "allowed_channels"),
        )

    def problems(self, core: JdebugSettings) -> list[str]:
        """What keeps `jdebug serve` from connecting in this mode, one short phrase each."""
        problems = []
        if not self.slack_bot_token:
            problems.append("SLACK_BOT_TOKEN is not set")
        elif not self.slack_bot_token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN is not a bot token (xoxb-…)")
        if self.slack_mode == "socket":
            if not self.slack_app_token:
                problems.append("SLACK_APP_TOKEN is not set")
            elif not self.slack_app_token.startswith("xapp-"):
                problems.append("SLACK_APP_TOKEN is not an app-level token (xapp-…)")
        if self.slack_mode == "http" and not self.slack_signing_secret:
            problems.append("SLACK_SIGNING_SECRET is not set")
        if core.impersonation == "table" and core.impersonation_table is None:
            problems.append("JDEBUG_IMPERSONATION=table needs JDEBUG_IMPERSONATION_TABLE")
        return problems
