"""What Slack knows about a requester that the core asks for: their profile e-mail (for
impersonation by e-mail, `users.info`, scope users:read.email) and which of the policy's user
groups they are in (`usergroups.users.list`, scope usergroups:read).

Group members are cached for `ttl_s` and refreshed in the background, so admission (which must
answer within Slack's 3 s) rarely waits for Slack; when it must and Slack is slow or refuses,
the requester counts as in no group, and the log says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.impersonation import NoKubeIdentity

log = structlog.get_logger("jdebug.slack")
# users.info is Tier 4; an e-mail rarely changes, so one look-up serves a while.
EMAIL_TTL_S = 600
# Admission waits at most this for group members Slack has not told us yet.
GROUPS_WAIT_S = 1.0


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, ttl_s: float = 300, table_setting: str = "") -> None:
        self.client = client
        self.table_setting = table_setting or "JDEBUG_IMPERSONATION_TABLE"
        self._emails: TTLCache[str, str] = TTLCache(maxsize=4096, ttl=EMAIL_TTL_S)
        self._members: TTLCache[str, frozenset[str]] = TTLCache(maxsize=1024, ttl=ttl_s)
        self._pending: dict[str, asyncio.Task[frozenset[str]]] = {}

    async def email(self, user: str) -> str:
        """The profile e-mail from `users.info`, cached; NoKubeIdentity when there is none."""
        cached = self._emails.get(user)
        if cached is not None:
            return cached
        fix = (
            "give the Slack app the users:read.email scope, or map your Slack user ID "
            f"({user}) in {self.table_setting}"
        )
        try:
            answer = await self.client.users_info(user=user)
        except SlackApiError as error:
            code = error.response.get("error", "unknown")
            raise NoKubeIdentity(
                f"jdebug could not read your Slack e-mail ({code}) to find your Kubernetes "
                "identity, so nothing ran",
                fix=fix,
            ) from error
        profile: Any = (answer.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        if not isinstance(email, str) or not email:
            raise NoKubeIdentity(
                "jdebug finds your Kubernetes identity by your Slack e-mail, and Slack showed "
                "it none, so nothing ran",
                fix=fix,
            )
        self._emails[user] = email
        return email

    async def groups_of(self, user: str, groups: Iterable[str]) -> frozenset[str]:
        """Which of `groups` (user-group IDs) `user` is a member of."""
        wanted = list(groups)
        if not wanted:
            return frozenset()
        try:
            async with asyncio.timeout(GROUPS_WAIT_S):
                members = await asyncio.gather(*(self._members_of(g) for g in wanted))
        except TimeoutError:
            log.warning("slack.groups_slow", groups=wanted)
            members = [self._members.get(g, frozenset()) for g in wanted]
        return frozenset(g for g, users in zip(wanted, members, strict=True) if user in users)

    async def refresh(self, groups: Iterable[str]) -> None:
        """Fetch the members of `groups` now (at start and as the cache runs out)."""
        for group in groups:
            self._members.pop(group, None)
        await asyncio.gather(*(self._members_of(g) for g in groups))

    async def _members_of(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached is not None:
            return cached
        task = self._pending.get(group)
        if task is None:  # one call per group, however many requests wait for it
            task = asyncio.create_task(self._fetch(group))
            self._pending[group] = task
            task.add_done_callback(lambda _: self._pending.pop(group, None))
        return await asyncio.shield(task)

    async def _fetch(self, group: str) -> frozenset[str]:
        try:
            answer = await self.client.usergroups_users_list(usergroup=group)
        except (SlackApiError, SlackClientError) as error:
            code = error.response.get("error") if isinstance(error, SlackApiError) else None
            log.warning("slack.group_members_failed", group=group, error=code or str(error))
            return frozenset()
        users = answer.get("users") or []
        found = frozenset(u for u in users if isinstance(u, str))
        self._members[group] = found
        return found
