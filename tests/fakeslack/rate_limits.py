"""Slack's per-method rate limits, on by default, answered with HTTP 429 and `Retry-After`.

Tiers from docs.slack.dev/apis/web-api/rate-limits: Tier 1 1+/min, Tier 2 20+/min, Tier 3
50+/min, Tier 4 100+/min, per method per app per workspace; each method's tier is on its page
at docs.slack.dev/reference/methods/<name> ("Rate limits"). chat.postMessage is special: "one
message per second per channel" with short bursts allowed. Each limit is a token bucket that
holds the tier's per-minute count and refills over a minute; its clock is injectable, so a
test can stop or advance time instead of waiting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "chat.update": 3,
    "chat.postEphemeral": 4,
    "chat.delete": 3,
    "views.publish": 4,
    "users.info": 4,
    "usergroups.users.list": 2,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
POST_MESSAGE = "chat.postMessage"
POST_PER_SECOND = 1.0
# Slack allows "short bursts >1" per channel without saying how many; the fake allows 5,
# then one a second. A bot that posts in bursts of more than that depends on luck at Slack.
POST_BURST = 5


class ManualClock:
    """A clock that moves only when told: `clock.advance(61)` refills every bucket."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 if a call may go now, else the seconds until one may."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


class RateLimits:
    """The buckets of one fake workspace; `enabled=False` turns every limit off."""

    def __init__(self, clock: Clock = time.monotonic, *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, key: tuple[str, str], capacity: float, per_second: float) -> _Bucket:
        if key not in self._buckets:
            self._buckets[key] = _Bucket(capacity, per_second, capacity, self.clock())
        return self._buckets[key]

    def retry_after(self, method: str, channel: str | None) -> int | None:
        """None if the call may go; else the whole seconds Slack would put in `Retry-After`."""
        if not self.enabled:
            return None
        if method == POST_MESSAGE and channel:
            bucket = self._bucket((method, channel), POST_BURST, POST_PER_SECOND)
        elif method in METHOD_TIER:
            per_minute = TIER_PER_MINUTE[METHOD_TIER[method]]
            bucket = self._bucket((method, ""), per_minute, per_minute / 60)
        else:
            return None
        wait = bucket.take(self.clock())
        return None if wait == 0 else max(1, math.ceil(wait))
