"""Settings of `jdebug serve`, from the environment (and `.env`), validated once at start.

`.env.example` documents every variable. Slack's own variables keep Slack's conventional
names (`SLACK_BOT_TOKEN`, …); jdebug's are prefixed `JDEBUG_`. `serve_problems()` names
what `jdebug serve` needs but did not get, so it can fail with one sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.access.limits import Limits

CsvList = Annotated[tuple[str, ...], NoDecode]

ENV_PREFIX = "JDEBUG_"
ANYONE = "*"


class Settings(BaseSettings):
    # Empty values count as unset: a copied .env.example has `JDEBUG_LOCAL_JAVA_HOME=`,
    # which must not become Path(".").
    model_config = SettingsConfigDict(
        env_file=".env",
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    slack_bot_token: str = Field("", validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_app_token: str = Field("", validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    slack_signing_secret: str = Field("", validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=AliasChoices("SLACK_API_URL")
    )

    slack_mode: Literal["socket", "http"] = "socket"
    # 0 means "any free port" (tests); the bound port is logged at start.
    http_port: int = Field(3000, ge=0, le=65535)
    health_port: int = Field(8081, ge=0, le=65535)
    allowed_users: CsvList = ()
    allowed_channels: CsvList = ()
    # Kubernetes sends SIGKILL 30 s after SIGTERM by default; stay below that unless
    # terminationGracePeriodSeconds is raised with it.
    shutdown_grace_seconds: int = Field(25, ge=0, le=3600)
    step_deadline_seconds: int = Field(60, ge=5, le=600)
    # Diagnostics one replica runs at once; more wait their turn. Each one is a child
    # process or a debug container, and they compete with acking new commands for CPU.
    max_concurrent_requests: int = Field(4, ge=1, le=64)
    # `all` on a deployment or selector: pods one request may run on (more is refused).
    max_pods_per_request: int = Field(20, ge=1, le=500)
    # Limits (bot/limits.py), so one user or a burst cannot take the bot over: beyond them a
    # request is refused with "busy, try again in N s" before anything runs.
    # Admitted requests waiting for a slot; every waiting one holds memory and a Slack reply.
    max_waiting_requests: int = Field(16, ge=0, le=1000)
    # Requests one user may have running or waiting at once.
    max_requests_per_user: int = Field(2, ge=1, le=64)
    # Requests started per minute by one user, and by everyone together (token buckets:
    # a burst of that many, then one every 60/N seconds).
    user_requests_per_minute: int = Field(10, ge=1, le=10_000)
    requests_per_minute: int = Field(60, ge=1, le=100_000)
    local_java_home: Path | None = None

    # Kubernetes (see bot/backends.py): the cluster, where commands without ns= look, the
    # debug image, the ways in and their order, and the node debug pods' namespace.
    kubeconfig: str | None = None
    namespace: str = "default"
    debug_image: str = "eclipse-temurin:25-jdk"
    strategies: str = "exec,sidecar,ephemeral,node"
    node_namespace: str | None = None
    janitor_interval_seconds: int = Field(60, ge=5, le=3600)
    # Leader election (bot/kube/lease.py) picks the one replica that runs the janitor. A killed
    # leader is replaced within the lease duration (+ a retry period); it stops its own work
    # when it cannot renew within the renew deadline, which must be shorter.
    lease_duration_seconds: int = Field(15, ge=2, le=3600)
    lease_renew_deadline_seconds: float = Field(10, gt=0, le=3600)
    lease_retry_period_seconds: float = Field(2, gt=0, le=3600)
    # Who may run what (bot/policy): with a file, it decides every Slack request and the
    # allow-lists above are not used; it is re-read when it changes.
    policy_file: Path | None = None
    policy_contact: str | None = None
    policy_poll_seconds: int = Field(10, ge=1, le=3600)
    # One JSON line per request is appended here too (the log always gets it).
    audit_file: Path | None = None
    # Impersonation (bot/impersonation.py): `off`, or run each Slack request as the person's
    # own Kubernetes identity, found by Slack e-mail (`email`, needs users:read.email) or only
    # in the table (`table`); table entries win in both modes.
    impersonation: Literal["off", "email", "table"] = "off"
    impersonation_table: Path | None = None
    # The bot's own pod, from the downward API: node debug pods get an ownerReference to it,
    # so deleting the bot garbage-collects them.
    pod_name: str | None = Field(None, validation_alias=AliasChoices("POD_NAME"))
    pod_uid: str | None = Field(None, validation_alias=AliasChoices("POD_UID"))
    pod_namespace: str | None = Field(None, validation_alias=AliasChoices("POD_NAMESPACE"))

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

    @model_validator(mode="after")
    def _lease_timing(self) -> Settings:
        retry, renew = self.lease_retry_period_seconds, self.lease_renew_deadline_seconds
        if not retry < renew < self.lease_duration_seconds:
            raise ValueError(
                "JDEBUG_LEASE_RETRY_PERIOD_SECONDS < JDEBUG_LEASE_RENEW_DEADLINE_SECONDS < "
                f"JDEBUG_LEASE_DURATION_SECONDS is required, got {retry:g} / {renew:g} / "
                f"{self.lease_duration_seconds}"
            )
        return self

    def serve_problems(self) -> list[str]:
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
        if self.impersonation == "table" and self.impersonation_table is None:
            problems.append("JDEBUG_IMPERSONATION=table needs JDEBUG_IMPERSONATION_TABLE")
        return problems

    def limits(self) -> Limits:
        """The limiter's bounds from these settings."""
        return Limits(
            running=self.max_concurrent_requests,
            waiting=self.max_waiting_requests,
            per_user=self.max_requests_per_user,
            user_per_minute=self.user_requests_per_minute,
            global_per_minute=self.requests_per_minute,
            typical_run_s=float(min(self.step_deadline_seconds, 10)),
        )

    def allows(self, user: str, channel: str | None) -> bool:
        """Until the policy file lands: listed users, or anyone in a listed channel.

        `*` in either list admits everyone; both lists empty admits nobody (default deny).
        """
        if ANYONE in self.allowed_users or ANYONE in self.allowed_channels:
            return True
        return user in self.allowed_users or (
            channel is not None and channel in self.allowed_channels
        )


def env_name(field: str) -> str:
    """The environment variable that sets `field`, for error messages."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices) and alias.choices:
        return str(alias.choices[0])
    return ENV_PREFIX + field.upper()
