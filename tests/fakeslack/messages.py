"""What `chat.postMessage`, `chat.update`, `chat.postEphemeral` and `views.publish` do.

Each handler checks arguments the way the method's page at docs.slack.dev/reference/methods
describes (errors, limits), changes the workspace, and returns Slack's success answer.
"""

from __future__ import annotations

import time
from dataclasses import replace

from tests.fakeslack import limits
from tests.fakeslack.blocks import check_message_blocks, check_view
from tests.fakeslack.channels import require_channel
from tests.fakeslack.errors import SlackError
from tests.fakeslack.mentions import mentions_in_message
from tests.fakeslack.records import Ephemeral, HomeView, JsonDict, Message, MessageVersion
from tests.fakeslack.workspace import Workspace, slack_id

# Slack's answer when it truncated `text` (the "warning" + response_metadata.warnings form of
# docs.slack.dev/apis/web-api#responses).
_TRUNCATED = {
    "warning": "message_truncated",
    "response_metadata": {"warnings": ["message_truncated"]},
}


def _content(params: JsonDict) -> tuple[str, list[JsonDict]]:
    text = str(params.get("text") or "")
    blocks = params.get("blocks") or []
    if not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    check_message_blocks(blocks)
    return text, list(blocks)


def _truncated(text: str) -> JsonDict:
    return _TRUNCATED if len(text) > limits.TEXT_TRUNCATED_AT else {}


def _thread_ts(params: JsonDict) -> str | None:
    value = params.get("thread_ts")
    return str(value) if value else None


class Messages:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    def message_json(self, m: Message) -> JsonDict:
        """A message the way Slack shows it in answers and in `block_actions` payloads."""
        ident = self.ws.identity
        body: JsonDict = {
            "type": "message",
            "user": m.user,
            "bot_id": m.bot_id,
            "app_id": ident.app_id,
            "team": ident.team_id,
            "text": m.text,
            "ts": m.ts,
            "blocks": m.blocks,
        }
        if m.thread_ts is not None:
            body["thread_ts"] = m.thread_ts
        if m.files:
            body["files"] = list(m.files)
            body["upload"] = True
        if not m.bot_id:  # a person's message: no bot fields
            for key in ("bot_id", "app_id"):
                body.pop(key)
        return body

    def _heard(self, method: str, text: str, blocks: object) -> None:
        self.ws.mentions.extend(mentions_in_message(method, text, blocks))

    def post_message(self, params: JsonDict) -> JsonDict:
        channel = require_channel(self.ws, params)
        text, blocks = _content(params)
        self._heard("chat.postMessage", text, blocks)
        ident = self.ws.identity
        message = Message(
            channel=channel,
            ts=self.ws.next_ts(),
            text=text[: limits.TEXT_TRUNCATED_AT],
            blocks=blocks,
            thread_ts=_thread_ts(params),
            user=ident.bot_user_id,
            bot_id=ident.bot_id,
            posted_at=time.monotonic(),
        )
        self.ws.messages[message.ts] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": self.message_json(message),
            **_truncated(text),
        }

    def update(self, params: JsonDict) -> JsonDict:
        channel = require_channel(self.ws, params)
        old = self.ws.messages.get(str(params.get("ts", "")))
        if old is None or old.channel != channel:
            raise SlackError("message_not_found")
        text = str(params["text"]) if "text" in params else old.text
        if len(text) > limits.TEXT_TRUNCATED_AT:
            raise SlackError("msg_too_long")
        # Slack keeps the old blocks when `blocks` is absent; an empty list removes them.
        blocks = params.get("blocks", old.blocks)
        check_message_blocks(blocks)
        self._heard("chat.update", text, blocks)
        new = replace(
            old,
            text=text,
            blocks=list(blocks),
            history=(*old.history, MessageVersion(old.text, old.blocks, time.monotonic())),
        )
        self.ws.messages[new.ts] = new
        return {
            "ok": True,
            "channel": channel,
            "ts": new.ts,
            "text": new.text,
            "message": self.message_json(new),
        }

    def post_ephemeral(self, params: JsonDict) -> JsonDict:
        channel = require_channel(self.ws, params)
        user = str(params.get("user") or "")
        if not user:
            raise SlackError("user_not_in_channel")
        text, blocks = _content(params)
        self._heard("chat.postEphemeral", text, blocks)
        ephemeral = Ephemeral(
            channel=channel,
            user=user,
            text=text[: limits.TEXT_TRUNCATED_AT],
            blocks=blocks,
            thread_ts=_thread_ts(params),
            message_ts=self.ws.next_ts(),
            at=time.monotonic(),
        )
        self.ws.ephemeral.append(ephemeral)
        return {"ok": True, "message_ts": ephemeral.message_ts, **_truncated(text)}

    def publish_view(self, params: JsonDict) -> JsonDict:
        user_id = str(params.get("user_id") or "")
        view = params.get("view")
        if not user_id:
            raise SlackError("invalid_arguments")
        check_view(view)
        assert isinstance(view, dict)  # check_view refused anything else
        self._heard("views.publish", "", view.get("blocks") or [])
        ident = self.ws.identity
        stored = {
            "id": slack_id("V"),
            "team_id": ident.team_id,
            "type": "home",
            "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{slack_id('', 8)}",
            "title": {"type": "plain_text", "text": "View Title", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": None,
            "app_id": ident.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": ident.team_id,
            "bot_id": ident.bot_id,
        }
        self.ws.home_views[user_id] = HomeView(user_id, stored, time.monotonic())
        return {"ok": True, "view": stored}
