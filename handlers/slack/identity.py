"""Which Kubernetes identity a Slack user's request runs as, when impersonation is on.

`email` mode asks Slack (`users.info`, scope users:read.email) for the profile e-mail and
acts as that user; `table` mode only reads JDEBUG_IMPERSONATION_TABLE, whose entries also win
in `email` mode. Someone with no identity is refused here, before any Kubernetes call.
"""

from __future__ import annotations

from typing import Any

import structlog
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.impersonation import (
    IdentityTable,
    ImpersonatingBackend,
    ImpersonationError,
    KubeIdentity,
    NoKubeIdentity,
    load_identity_table,
)
from bot.backends.protocols import Backend
from bot.settings import Settings, env_name

log = structlog.get_logger("jdebug.impersonation")
# users.info is Tier 4; an e-mail rarely changes, so one look-up serves a while.
EMAIL_TTL_S = 600


class ActingAs:
    """Picks the backend one Slack request runs on: the bot's own when impersonation is off,
    else the same backend acting as the requester's Kubernetes identity."""

    def __init__(self, settings: Settings, backend: Backend) -> None:
        self.mode = settings.impersonation
        self.backend = backend
        self.table = IdentityTable()
        self._emails: TTLCache[str, str] = TTLCache(maxsize=4096, ttl=EMAIL_TTL_S)
        self._impersonating: ImpersonatingBackend | None = None
        if self.mode == "off":
            return
        if settings.impersonation_table is not None:
            self.table = load_identity_table(settings.impersonation_table)
        if not isinstance(backend, ImpersonatingBackend):
            raise ImpersonationError(
                f"{env_name('impersonation')}={self.mode} needs a Kubernetes cluster, but jdebug "
                "found no kubeconfig or in-cluster configuration"
            )
        self._impersonating = backend

    async def backend_for(
        self, slack_user: str, client: AsyncWebClient
    ) -> tuple[Backend, str | None]:
        """The backend to run `slack_user`'s request on, and the Kubernetes user it acts as
        (None: jdebug's own identity); NoKubeIdentity when the person has none."""
        if self._impersonating is None:
            return self.backend, None
        identity = self.table.get(slack_user)
        if identity is None and self.mode == "email":
            identity = KubeIdentity(await self._email(slack_user, client))
        if identity is None:
            raise NoKubeIdentity(
                "jdebug runs Kubernetes calls as your own Kubernetes identity, and you have "
                "none in its impersonation table, so nothing ran",
                fix=f"an admin can map your Slack user ID ({slack_user}) in "
                f"{env_name('impersonation_table')}",
            )
        structlog.contextvars.bind_contextvars(kube_user=identity.user)
        log.info("impersonation.acting_as", kube_user=identity.user, groups=list(identity.groups))
        return self._impersonating.acting_as(identity), identity.user

    async def _email(self, slack_user: str, client: AsyncWebClient) -> str:
        """The profile e-mail from `users.info`, cached."""
        cached = self._emails.get(slack_user)
        if cached is not None:
            return cached
        fix = (
            "give the Slack app the users:read.email scope, or map your Slack user ID "
            f"({slack_user}) in {env_name('impersonation_table')}"
        )
        try:
            answer = await client.users_info(user=slack_user)
        except SlackApiError as error:
            code = error.response.get("error", "unknown")
            raise NoKubeIdentity(
                f"jdebug could not read your Slack e-mail ({code}) to find your Kubernetes "
                "identity, so nothing ran",
                fix=fix,
            ) from error
        user: Any = answer.get("user") or {}
        email = (user.get("profile") or {}).get("email")
        if not isinstance(email, str) or not email:
            raise NoKubeIdentity(
                "jdebug finds your Kubernetes identity by your Slack e-mail, and Slack showed "
                "it none, so nothing ran",
                fix=fix,
            )
        self._emails[slack_user] = email
        return email
