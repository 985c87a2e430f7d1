"""jdebug's own settings (not Slack's), from the environment and `.env`, for `run` and `serve`.

Each setting and its default is defined once, here, with the sentence that documents it:
`.env.example`, `deploy/base/settings.env` and the README's table are generated from these
fields (`make settings`), and a test checks they match. Frontend settings (Slack's tokens and
mode) live with their frontend and follow the same pattern.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.access.limits import Limits
from bot.kube.strategies.context import DEFAULT_DEBUG_IMAGE

CsvList = Annotated[tuple[str, ...], NoDecode]
# A Secret's name is a DNS subdomain (RFC 1123), as the API server validates it.
_SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

ENV_PREFIX = "JDEBUG_"
STRATEGY_NAMES = ("exec", "sidecar", "ephemeral", "node")


class JdebugSettings(BaseSettings):
    """Validated once at start; a wrong value stops jdebug with one sentence naming it."""

    # Empty values count as unset: a copied .env.example has `JDEBUG_LOCAL_JAVA_HOME=`,
    # which must not become Path(".").
    model_config = SettingsConfigDict(
        env_file=".env",
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    kubeconfig: str | None = Field(
        None,
        description="kubeconfig to use (else `$KUBECONFIG`, else in-cluster, else local JVMs)",
    )
    clusters_file: Path | None = Field(
        None,
        description="YAML naming several clusters (`cluster=NAME`): name → kubeconfig context "
        "or in-cluster; see the README",
    )
    namespace: str = Field("default", description="namespace when a command gives no `ns=`")
    debug_image: str = Field(
        DEFAULT_DEBUG_IMAGE,
        description="image of ephemeral containers and node pods (`deploy/debug-image/`)",
    )
    strategies: CsvList = Field(
        STRATEGY_NAMES, description="which ways in to try, in order (comma separated)"
    )
    debug_from_app_image: bool = Field(
        True,
        description="start ephemeral debug containers from the app's own image (already on "
        "the node, nothing to pull) when it has a shell; else from JDEBUG_DEBUG_IMAGE",
    )
    attach_helper_dir: Path | None = Field(
        None,
        description="folder of `jdebug-attach-<arch>` static helpers streamed into debug "
        "containers (the bot image has them; default: this checkout's build/native)",
    )
    image_pull_secrets: CsvList = Field(
        (),
        description="secrets (comma separated, in the node pods' namespace) node debug pods pull "
        "JDEBUG_DEBUG_IMAGE with; ephemeral containers use their pod's own",
    )
    node_namespace: str | None = Field(
        None,
        description="where node debug pods run (must admit hostPID); default: the bot's namespace",
    )
    step_deadline_seconds: int = Field(
        60,
        ge=5,
        le=600,
        description="how long one diagnostic may take next to the JVM; repeated dumps add "
        "their intervals",
    )
    local_java_home: Path | None = Field(
        None, description="JDK whose `jcmd` the local strategy uses when `jattach` is missing"
    )
    max_concurrent_requests: int = Field(
        4,
        ge=1,
        le=64,
        description="diagnostics one replica runs at once; more wait their turn",
    )
    max_waiting_requests: int = Field(
        16, ge=0, le=1000, description="admitted requests that may wait for a slot"
    )
    max_requests_per_user: int = Field(
        2, ge=1, le=64, description="requests one user may have running or waiting"
    )
    user_requests_per_minute: int = Field(
        10, ge=1, le=10_000, description="requests one user may start per minute"
    )
    requests_per_minute: int = Field(
        60, ge=1, le=100_000, description="requests everyone together may start per minute"
    )
    max_pods_per_request: int = Field(
        20, ge=1, le=500, description="pods one `all` may run on (more is refused)"
    )
    policy_file: Path | None = Field(
        None,
        description="who may run what (`examples/policy.yaml`); re-read when it changes",
    )
    policy_contact: str | None = Field(
        None, description="who to ask for access, named in every denial"
    )
    policy_poll_seconds: int = Field(
        10, ge=1, le=3600, description="how often the policy file is checked for changes"
    )
    audit_file: Path | None = Field(
        None, description="append each request's audit record here as a JSON line too"
    )
    impersonation: Literal["off", "email", "table"] = Field(
        "off",
        description="run each request as the requester's own Kubernetes identity: `email` "
        "(Slack profile e-mail) or `table` only",
    )
    impersonation_table: Path | None = Field(
        None, description="Slack user ID → Kubernetes user and groups (YAML)"
    )
    janitor_interval_seconds: int = Field(
        60, ge=5, le=3600, description="how often `jdebug serve` sweeps leftover node debug pods"
    )
    lease_duration_seconds: int = Field(
        15,
        ge=2,
        le=3600,
        description="leader election: a dead janitor replica is replaced within this "
        "(+ one retry period)",
    )
    lease_renew_deadline_seconds: float = Field(
        10,
        gt=0,
        le=3600,
        description="the leader stops its janitor when it cannot renew the Lease this long",
    )
    lease_retry_period_seconds: float = Field(
        2, gt=0, le=3600, description="how often the Lease is renewed, or tried by others"
    )
    health_port: int = Field(
        8081, ge=0, le=65535, description="`/healthz`, `/readyz` and `/metrics` (0: any free)"
    )
    shutdown_grace_seconds: int = Field(
        25,
        ge=0,
        le=3600,
        description="on SIGTERM, how long running requests may finish (below the pod's "
        "terminationGracePeriodSeconds)",
    )
    log_format: Literal["console", "json"] | None = Field(
        None, description="log format (logs go to stderr); default: console on a terminal"
    )
    log_level: str | None = Field(
        None, description="log level; default: `warning` for `run`, `info` for `serve`"
    )
    # The bot's own pod, from the downward API: node debug pods get an ownerReference to it,
    # so deleting the bot garbage-collects them.
    pod_name: str | None = Field(
        None, description="the bot's own pod (downward API)", validation_alias="POD_NAME"
    )
    pod_uid: str | None = Field(
        None, description="the bot's own pod's UID (downward API)", validation_alias="POD_UID"
    )
    pod_namespace: str | None = Field(
        None,
        description="the bot's own namespace (downward API)",
        validation_alias="POD_NAMESPACE",
    )

    @field_validator("strategies", "image_pull_secrets", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("image_pull_secrets")
    @classmethod
    def _secret_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in value if not _SECRET_NAME.fullmatch(n) or len(n) > 253]
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: not a Secret name (lowercase letters, digits, '-' and '.')"
            )
        return value

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in STRATEGY_NAMES]
        if unknown:
            raise ValueError(
                f"unknown strategies {', '.join(unknown)}; known: {', '.join(STRATEGY_NAMES)}"
            )
        if not value:
            raise ValueError("name at least one strategy")
        return value

    @model_validator(mode="after")
    def _lease_timing(self) -> JdebugSettings:
        retry, renew = self.lease_retry_period_seconds, self.lease_renew_deadline_seconds
        if not retry < renew < self.lease_duration_seconds:
            raise ValueError(
                "JDEBUG_LEASE_RETRY_PERIOD_SECONDS < JDEBUG_LEASE_RENEW_DEADLINE_SECONDS < "
                f"JDEBUG_LEASE_DURATION_SECONDS is required, got {retry:g} / {renew:g} / "
                f"{self.lease_duration_seconds}"
            )
        return self

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


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field`, for error messages and generated docs."""
    info = settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices) and alias.choices:
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    prefix = str(settings.model_config.get("env_prefix", ""))
    return prefix + field.upper()
