"""Bolt listeners: `/jdebug`, the follow-up buttons, and App Home. Each acks first.

Bolt's AsyncApp stops waiting once `ack()` is sent and lets the listener go on, so the work
runs after the ack in the same listener (facts/slack.md, "Commands and acks").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.echo import command_text
from bot.commands.grammar import HelpRequest
from bot.model.errors import GrammarError
from bot.model.request import Requester
from bot.session.service import Admitted, JdebugService, Refusal
from handlers.slack.analyse import CALLBACK_ID, analyse_message
from handlers.slack.blocks import RUN_ACTION_PREFIX, error_text, escape, help_text, home_view
from handlers.slack.identity import SlackDirectory
from handlers.slack.payloads import malformed_actions, read_click, read_command
from handlers.slack.reporter import Say, SlackReporter

log = structlog.get_logger("jdebug.slack")

BAD_BUTTON = "✖ That button's data is not valid; type the command instead."
BAD_COMMAND = "✖ That command arrived incomplete from Slack; type it again, or `/jdebug help`."


# Bolt looks for the ack every 10 ms (slack_bolt/listener/asyncio_runner.py) and only then
# sends it; work started first (spawning a process holds the loop for milliseconds) would
# delay every pending ack.
ACK_FLUSH_S = 0.012


def refusal_text(refusal: Refusal) -> str:
    """What the requester alone reads instead of a run."""
    if isinstance(refusal, HelpRequest):
        return help_text(refusal.topic)
    if isinstance(refusal, GrammarError):
        return error_text(refusal) + "\nType `/jdebug help` for usage."
    return error_text(refusal)


class SlackFrontend:
    """What the listeners need: the core service and what Slack tells about a requester."""

    def __init__(self, service: JdebugService, directory: SlackDirectory) -> None:
        self.service = service
        self.directory = directory

    async def requester(self, user: str, channel: str) -> Requester:
        groups = await self.directory.groups_of(user, self.service.gate.groups)
        return Requester("slack", user, channel, groups)

    async def admit(self, text: str, user: str, channel: str) -> Admitted | Refusal:
        return self.service.admit(text, await self.requester(user, channel))

    async def run(
        self,
        admitted: Admitted,
        client: AsyncWebClient,
        channel: str,
        say: Say,
        root_ts: str | None = None,
    ) -> None:
        reporter = SlackReporter(client, channel, admitted.request, say, root_ts)
        try:
            await asyncio.sleep(ACK_FLUSH_S)
            await self.service.run(admitted, reporter)
        finally:
            await reporter.close()


def register(app: AsyncApp, frontend: SlackFrontend) -> None:
    service = frontend.service
    app.use(DropMalformedActions())

    @app.command("/jdebug")
    async def on_command(
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond | None,
    ) -> None:
        typed = read_command(command)
        if not typed.usable or typed.text is None:
            log.warning("slack.bad_command", user=typed.user, channel=typed.channel)
            await ack(text=BAD_COMMAND, response_type="ephemeral")
            return
        # Tracked before admission, so a SIGTERM either waits for this request or refuses it.
        async with service.inflight.track():
            admitted = await frontend.admit(typed.text, typed.user, typed.channel)
            if not isinstance(admitted, Admitted):
                await ack(text=refusal_text(admitted), response_type="ephemeral")
                return
            with admitted.permit:  # released by run; here too if the ack fails first
                await ack(
                    text=f"Working on `{escape(command_text(admitted.request))}`…"
                    f"{service.queue_note()}",
                    response_type="ephemeral",
                )
                await frontend.run(admitted, client, typed.channel, ephemeral_sayer(respond))

    @app.action(re.compile(rf"^{RUN_ACTION_PREFIX}(_\w+)?$"))
    async def on_run_button(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None
    ) -> None:
        await ack()
        say = ephemeral_sayer(respond)
        click = read_click(body)
        if click.text is None or not click.user or not click.channel:
            log.warning("slack.bad_button", user=click.user, channel=click.channel)
            await say(BAD_BUTTON)
            return
        async with service.inflight.track():
            admitted = await frontend.admit(click.text, click.user, click.channel)
            if not isinstance(admitted, Admitted):
                await say(refusal_text(admitted))
                return
            with admitted.permit:
                await frontend.run(admitted, client, click.channel, say, root_ts=click.root_ts)

    @app.shortcut(CALLBACK_ID)
    async def on_analyse(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None
    ) -> None:
        await ack()
        async with service.inflight.track():
            await analyse_message(service, client, body, ephemeral_sayer(respond))

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        user = str(event.get("user", ""))
        if not user or event.get("tab", "home") != "home":
            return
        try:
            await client.views_publish(user_id=user, view=home_view(service.history.recent(user)))
        except SlackApiError as error:
            log.warning("slack.home_publish_failed", error=error.response.get("error"))


class DropMalformedActions(AsyncMiddleware):
    """Acks an interactive payload whose `actions` Bolt could not route (its matchers index
    `actions[0]["action_id"]` unchecked) and tells the clicker; the listeners never see it.

    A class, not a function middleware: Bolt builds a function's arguments from the body,
    which already fails on such a payload."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        problem = malformed_actions(req.body)
        if problem is None:
            return await next()
        log.warning("slack.malformed_actions", problem=problem)
        await ephemeral_sayer(req.context.respond)(BAD_BUTTON)
        return BoltResponse(status=200, body="")


def ephemeral_sayer(respond: AsyncRespond | None) -> Say:
    """A reply only the requester sees, through the command's or click's response_url.

    A payload without a usable response_url cannot be answered this way; that is logged,
    not raised, so a malformed payload never becomes an unhandled error.
    """

    async def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        if respond is None:
            log.warning("slack.no_response_url")
            return
        try:
            await respond(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
        except Exception as error:  # a forged or expired URL: any client error ends here
            log.warning("slack.respond_failed", error=type(error).__name__)

    return say
