"""`SlackError`: how a method handler says "answer `ok: false` with this error".

Slack reports almost every failure as HTTP 200 with `{"ok": false, "error": "<code>"}`; only
rate limits and outages use other statuses, and those come from `faults.py`.
"""

from __future__ import annotations

from typing import Any

from tests.fakeslack.records import JsonDict
from tests.fakeslack.workspace import Workspace


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> JsonDict:
        return {"ok": False, "error": self.error, **self.extra}


def require_channel(ws: Workspace, params: JsonDict, name: str = "channel") -> str:
    """The channel argument, refused the way Slack refuses a missing one or one without the bot."""
    channel = str(params.get(name) or "").split(",")[0]
    if not channel:
        raise SlackError("channel_not_found")
    if channel in ws.channels_without_bot:
        raise SlackError("not_in_channel")
    return channel
