"""Payloads Slack sends to the app, built field by field the way Slack builds them.

Shapes follow Slack's docs ("Implementing slash commands", the `block_actions` payload
reference, the Events API `event_callback` wrapper) and the sample envelopes in bolt-python's
`tests/adapter_tests/socket_mode/mock_socket_mode_server.py`. Slash-command values are all
strings, as in Slack's form-encoded original.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from tests.fakeslack.records import Identity, JsonDict, Message, User


def trigger_id() -> str:
    """A trigger_id shaped like Slack's: `<digits>.<digits>.<32 hex>`."""
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def slash_command(
    ident: Identity,
    *,
    command: str,
    text: str,
    user: User,
    channel_id: str,
    channel_name: str,
    response_url: str,
) -> JsonDict:
    return {
        "token": ident.verification_token,
        "team_id": ident.team_id,
        "team_domain": ident.team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ident.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id(),
    }


def event_callback(ident: Identity, event: JsonDict) -> JsonDict:
    """Wrap an inner event the way the Events API delivers it."""
    now = time.time()
    inner = {"event_ts": f"{now:.6f}", **event}
    return {
        "token": ident.verification_token,
        "team_id": ident.team_id,
        "api_app_id": ident.app_id,
        "event": inner,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ident.team_id,
                "user_id": ident.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_urlsafe(24)}",
    }


def _elements(blocks: list[JsonDict]) -> Iterator[tuple[str, JsonDict]]:
    """(block_id, element) for every interactive element in `blocks`."""
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                yield block_id, element
        elif isinstance(block.get("accessory"), dict):
            yield block_id, block["accessory"]


def find_button(message: Message, action_id: str) -> tuple[str, JsonDict]:
    """The block_id and the button element with `action_id` in `message`, or LookupError."""
    for block_id, element in _elements(message.blocks):
        if element.get("type") == "button" and element.get("action_id") == action_id:
            return block_id, element
    found = [e.get("action_id") for _, e in _elements(message.blocks)]
    raise LookupError(f"no button {action_id!r} in message {message.ts}; buttons there: {found}")


def block_actions(
    ident: Identity,
    *,
    user: User,
    message: Message,
    message_json: JsonDict,
    block_id: str,
    button: JsonDict,
    channel_name: str,
    response_url: str,
) -> JsonDict:
    """A `block_actions` payload for a click on `button` in a channel message."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": False,
    }
    if message.thread_ts is not None:
        container["thread_ts"] = message.thread_ts
    action = {
        "action_id": button["action_id"],
        "block_id": block_id,
        "text": button.get("text", {"type": "plain_text", "text": ""}),
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    for optional in ("value", "style"):
        if optional in button:
            action[optional] = button[optional]
    return {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": ident.team_id},
        "api_app_id": ident.app_id,
        "token": ident.verification_token,
        "container": container,
        "trigger_id": trigger_id(),
        "team": {"id": ident.team_id, "domain": ident.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": channel_name},
        "message": message_json,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
