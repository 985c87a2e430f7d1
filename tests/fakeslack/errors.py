"""`SlackError`: how a method handler says "answer `ok: false` with this error".

Slack reports almost every failure as HTTP 200 with `{"ok": false, "error": "<code>"}`; only
rate limits and outages use other statuses, and those come from `faults.py`.
"""

from __future__ import annotations

from typing import Any

from tests.fakeslack.records import JsonDict


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> JsonDict:
        return {"ok": False, "error": self.error, **self.extra}
