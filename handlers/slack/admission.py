"""What `SlackService.admit` hands a listener for a request it will run: the Request and the
limiter permit it holds until the run ends (or the ack fails first)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.limits import Permit
from bot.request import Request


@dataclass(frozen=True)
class Admitted:
    request: Request
    permit: Permit
