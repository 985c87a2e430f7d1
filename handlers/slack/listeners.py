"""Bolt listeners: `/jdebug`, the follow-up buttons, and App Home. Each acks first.

Bolt's AsyncApp stops waiting once `ack()` is sent and lets the listener go on, so the work
runs after the ack in the same listener (facts/slack.md, "Commands and acks").
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.report.blocks import RUN_ACTION_PREFIX, escape
from bot.request_text import command_text
from handlers.slack.service import Say, SlackService, button_command

log = structlog.get_logger("jdebug.slack")

BAD_BUTTON = "✖ That button's data is not valid; type the command instead."


def register(app: AsyncApp, service: SlackService) -> None:
    @app.command("/jdebug")
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        # Tracked before admission, so a SIGTERM either waits for this request or refuses it.
        async with service.inflight.track():
            admitted = service.admit(str(command.get("text", "")), user, channel)
            if isinstance(admitted, str):
                await ack(text=admitted, response_type="ephemeral")
                return
            await ack(
                text=f"Working on `{escape(command_text(admitted.request))}`…"
                f"{service.queue_note()}",
                response_type="ephemeral",
            )
            await service.run(admitted, client, channel, user, ephemeral_sayer(respond))

    @app.action(re.compile(rf"^{RUN_ACTION_PREFIX}(_\w+)?$"))
    async def on_run_button(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        say = ephemeral_sayer(respond)
        user = str((body.get("user") or {}).get("id", ""))
        channel = str((body.get("channel") or {}).get("id", ""))
        actions = body.get("actions") or [{}]
        text = button_command(str(actions[0].get("value", "")))
        if text is None:
            await say(BAD_BUTTON)
            return
        async with service.inflight.track():
            admitted = service.admit(text, user, channel)
            if isinstance(admitted, str):
                await say(admitted)
                return
            # Follow-ups go into the thread of the message whose button was clicked: its
            # own ts when it is a parent, its thread_ts when it is a reply.
            message = body.get("message") or {}
            root = message.get("thread_ts") or (body.get("container") or {}).get("message_ts")
            await service.run(
                admitted, client, channel, user, say, root_ts=str(root) if root else None
            )

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        user = str(event.get("user", ""))
        if not user or event.get("tab", "home") != "home":
            return
        try:
            await client.views_publish(user_id=user, view=service.home(user))
        except SlackApiError as error:
            log.warning("slack.home_publish_failed", error=error.response.get("error"))


def ephemeral_sayer(respond: AsyncRespond) -> Say:
    """A reply only the requester sees, through the command's or click's response_url."""

    async def say(text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    return say
