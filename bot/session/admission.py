"""What `SlackService.admit` hands a listener for a request it will run: the Request, the
limiter permit it holds until the run ends (or the ack fails first), and the policy rule
that allowed it (for the audit record)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access.limits import Permit
from bot.model.request import Request


@dataclass(frozen=True)
class Admitted:
    request: Request
    permit: Permit
    rule: str | None = None
