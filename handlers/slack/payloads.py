"""The few fields jdebug reads from Slack payloads, read so that any shape is survivable.

Slack's payloads are trusted for who sent them (Socket Mode, or signed HTTP), not for their
shape: a field may be missing, null, a number or a list, and a button `value` is whatever
JSON a message once carried. Readers here never raise; a payload they cannot use is None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Slack caps a button's value at 2000 characters; anything longer was not made by jdebug.
VALUE_LIMIT = 2000


def _object(parent: Any, key: str) -> Mapping[str, Any]:
    value = parent.get(key) if isinstance(parent, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _string(parent: Any, key: str) -> str:
    value = parent.get(key) if isinstance(parent, Mapping) else None
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Command:
    """A slash command: who typed what where; `text` None when it is not a string."""

    user: str
    channel: str
    text: str | None

    @property
    def usable(self) -> bool:
        """Slack always sends all three as strings; a command without them is not answered
        by running anything."""
        return bool(self.user and self.channel) and self.text is not None


def read_command(body: Mapping[str, Any]) -> Command:
    raw = body.get("text", "")
    return Command(
        _string(body, "user_id"),
        _string(body, "channel_id"),
        raw if isinstance(raw, str) else None,
    )


@dataclass(frozen=True)
class Click:
    """A button click: who clicked where, the command its value carries (None when the value
    is malformed), and the thread a follow-up goes into."""

    user: str
    channel: str
    text: str | None
    root_ts: str | None


def read_click(body: Mapping[str, Any]) -> Click:
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    # Follow-ups go into the thread of the message whose button was clicked: its own ts
    # when it is a parent, its thread_ts when it is a reply.
    root = _string(_object(body, "message"), "thread_ts") or _string(
        _object(body, "container"), "message_ts"
    )
    return Click(
        user=_string(_object(body, "user"), "id"),
        channel=_string(_object(body, "channel"), "id"),
        text=button_command(_string(first, "value")),
        root_ts=root or None,
    )


def malformed_actions(body: Mapping[str, Any]) -> str | None:
    """Why an interactive payload's `actions` cannot be routed, or None when it can (or has
    none to route). Bolt's matchers index `actions[0]["action_id"]` unchecked, so this runs
    before them."""
    if body.get("type") not in ("block_actions", "interactive_message"):
        return None
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "no actions"
    first = actions[0]
    if not isinstance(first, Mapping) or not isinstance(first.get("action_id"), str):
        return "an action without an action_id"
    return None


def button_command(value: str) -> str | None:
    """The command text a button carries in its JSON `value`, or None if it is malformed."""
    if len(value) > VALUE_LIMIT:
        return None
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return None
    cmd = decoded.get("cmd") if isinstance(decoded, dict) else None
    return cmd if isinstance(cmd, str) else None
