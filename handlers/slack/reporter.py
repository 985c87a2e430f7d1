"""The Slack `Reporter`: post the parent once the target is found, update it as the session
advances, finish with the summary and the raw outputs threaded under it.

Errors before the parent exists go to the requester only (response_url), later ones into the
parent. A Slack refusal of the first post (`not_in_channel`) is `Undeliverable`: nothing runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model.errors import JdebugError, Undeliverable
from bot.model.request import Request
from bot.model.results import Result
from bot.report.snippets import snippets
from bot.session.reporter import PodAnswer
from bot.session.run import Progress
from handlers.slack.blocks import (
    TEXT_LIMIT,
    Block,
    clip,
    error_message,
    error_text,
    fanout_message,
    progress_message,
    result_message,
    section,
)
from handlers.slack.thread import SlackThread

# A reply only the requester sees: text, and blocks when it carries buttons.
Say = Callable[..., Awaitable[Any]]

log = structlog.get_logger("jdebug.slack")

# Slack answers `not_in_channel` in public and `channel_not_found` in private channels
# the bot was never added to.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
INVITE = "✖ I am not a member of this channel: invite me with /invite @jdebug, then try again."
TELL_TIMEOUT_S = 10


def slack_refusal(code: str, what: str = "a message for this request") -> str:
    if code in _NOT_A_MEMBER:
        return INVITE
    return f"✖ Slack refused {what} ({code}); try again, or ask an admin to check jdebug's log."


class SlackReporter:
    """One request's messages: a parent (or a reply, for a button in a thread) and its
    thread of files; `say` answers the requester alone."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        request: Request,
        say: Say,
        root_ts: str | None = None,
    ) -> None:
        self.client = client
        self.request = request
        self.user = request.requester.user
        self.say = say
        self.thread = SlackThread(client, channel, root_ts)

    async def progress(self, event: Progress) -> None:
        text, blocks = progress_message(self.request, self.user, event.message)
        if self.thread.ts is not None:
            self.thread.show(text, blocks)
            return
        try:
            # Posting may fail (not_in_channel); then nothing has run yet, and nothing will.
            await self.thread.post(text, blocks)
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            raise Undeliverable(slack_refusal(code), code) from error

    async def result(self, result: Result) -> str:
        await self.thread.finish(*result_message(result, self.user))
        return await self._upload(self.thread, result)

    async def pod(self, result: Result) -> str:
        reply = SlackThread(self.client, self.thread.channel, root_ts=self.thread.files_ts)
        try:
            await reply.post(*result_message(result, self.user))
        except (SlackApiError, SlackClientError) as error:
            code = error.response.get("error") if isinstance(error, SlackApiError) else None
            log.warning("slack.fanout_reply_failed", error=code)
            return f" (its reply could not be posted: {code or 'connection failed'})"
        return await self._upload(reply, result)

    async def fanout(self, request: Request, answers: Sequence[PodAnswer]) -> None:
        await self.thread.finish(*fanout_message(request, self.user, answers))

    async def error(self, error: JdebugError) -> None:
        """Into the parent when there is one, else to the requester only."""
        if isinstance(error, Undeliverable):
            await self._safe_say(error.message)
            return
        text, blocks = error_message(self.request, self.user, error)
        try:
            async with asyncio.timeout(TELL_TIMEOUT_S):
                if self.thread.ts is not None:
                    await self.thread.finish(text, blocks)
                    return
        except (SlackClientError, aiohttp.ClientError, TimeoutError):
            log.warning("slack.error_update_failed")
        buttons = [b for b in blocks if b["type"] in ("actions", "context")]
        if buttons:  # several JVMs or pods matched: one button each
            await self._safe_say(error_text(error), [section(error_text(error)), *buttons])
        else:
            await self._safe_say(error_text(error))

    async def close(self) -> None:
        await self.thread.close()

    async def _upload(self, thread: SlackThread, result: Result) -> str:
        """Upload the raw outputs; a failure is told to the requester, and the summary
        already in the channel stays. Returns a note for the outcome, empty when fine."""
        try:
            await thread.upload(snippets(result))
            return ""
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            log.warning("slack.upload_failed", error=code)
            await self._safe_say(slack_refusal(code, "the raw output"))
            return f" (upload failed: {code})"
        except (SlackClientError, aiohttp.ClientError, TimeoutError):
            # The SDK lets the network's own errors through (a connection reset mid-upload).
            log.exception("slack.upload_failed")
            await self._safe_say("✖ the raw output could not be uploaded; try again.")
            return " (upload failed)"

    async def _safe_say(self, message: str, blocks: list[Block] | None = None) -> None:
        try:
            async with asyncio.timeout(TELL_TIMEOUT_S):
                if blocks is None:
                    await self.say(clip(message, TEXT_LIMIT))
                else:
                    await self.say(clip(message, TEXT_LIMIT), blocks)
        except Exception:
            log.exception("slack.ephemeral_failed")
