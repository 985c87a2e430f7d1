"""Space the bot's own messages in a channel the way Slack asks: about one per second.

Slack's rate-limit page (docs.slack.dev/apis/web-api/rate-limits) says chat.postMessage
allows "1 message per second per channel", with short bursts over it. Fifty requests
admitted at once each post a parent in the same channel: without pacing they all get HTTP 429
and give up after the client's few retries. Here each post reserves the next free slot of
its channel (a small burst, then one a second), so they queue in the bot, in order, and the
429 retry stays for what another app sends to the same channel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

Clock = Callable[[], float]

PER_SECOND = 1.0
BURST = 3  # fewer than Slack tolerates, which it does not state


class ChannelPacer:
    """A token bucket per (workspace URL, channel); `wait` returns once a post may go."""

    def __init__(self, per_second: float = PER_SECOND, burst: int = BURST) -> None:
        self.per_second = per_second
        self.burst = burst
        # key -> (tokens, when counted); tokens below 0 are posts already queued.
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def reserve(self, key: tuple[str, str], now: float) -> float:
        """Take the next slot for `key`; the seconds to wait until it (0: go now)."""
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second) - 1
        self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self.per_second

    async def wait(self, base_url: str, channel: str) -> None:
        delay = self.reserve((base_url, channel), time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)


# One per process: every thread of every request shares its channels' slots.
PACER = ChannelPacer()
