"""The fake workspace's channels, public or private, and who is in them; and how Slack refuses
a bot that posts where it may not.

As chat.postMessage's page (docs.slack.dev/reference/methods/chat.postMessage, errors) describes
it for a bot with `chat:write` and without `chat:write.public`: a channel it cannot see (a
private one it was never added to, or one that does not exist) is `channel_not_found`; a
public channel it is not a member of is `not_in_channel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.fakeslack.errors import SlackError
from tests.fakeslack.records import JsonDict

if TYPE_CHECKING:
    from tests.fakeslack.workspace import Workspace


@dataclass(frozen=True)
class Channel:
    """A conversation in the fake workspace: `members` are user IDs (the bot's included)."""

    id: str
    name: str
    private: bool = False
    members: frozenset[str] = field(default_factory=frozenset)


def channel_for_bot(channels: dict[str, Channel], channel_id: str, bot_user_id: str) -> Channel:
    """The channel, if the bot may post there; Slack's refusal otherwise."""
    channel = channels.get(channel_id)
    if channel is None or (channel.private and bot_user_id not in channel.members):
        raise SlackError("channel_not_found")
    if bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def require_channel(ws: Workspace, params: JsonDict, name: str = "channel") -> str:
    """The channel argument, refused the way Slack refuses one the bot may not post in."""
    channel = str(params.get(name) or "").split(",")[0]
    if not channel:
        raise SlackError("channel_not_found")
    return channel_for_bot(ws.channels, channel, ws.identity.bot_user_id).id
