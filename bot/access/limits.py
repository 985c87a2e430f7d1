"""Rate and concurrency limits on the requests one replica takes, per user and in all.

`Limiter.admit(user)` gives a `Permit` or a `Busy` error saying when to try again. It is
pure and synchronous with an injectable clock, so it is judged before any work starts and
tested without waiting: the service marks a permit `start()`ed once it holds a run slot
and `release()`s it when the request ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from bot.model.errors import Busy

Clock = Callable[[], float]

# The weight of the latest run in the running estimate of how long a run takes.
_EWMA_WEIGHT = 0.3
# Past this many users with a bucket, refilled (full) buckets are forgotten.
_PRUNE_AT = 1024


@dataclass(frozen=True)
class Limits:
    """The bounds: `running` at once, `waiting` for a run slot beyond that, `per_user`
    admitted (running or waiting) per user, and requests started per minute, per user
    and in all. `typical_run_s` is the guess of a run's length until one has finished."""

    running: int = 4
    waiting: int = 16
    per_user: int = 2
    user_per_minute: int = 10
    global_per_minute: int = 60
    typical_run_s: float = 10.0

    @property
    def admitted(self) -> int:
        """The most requests admitted at once: running plus waiting."""
        return self.running + self.waiting


class TokenBucket:
    """`per_minute` tokens at most, refilled evenly; each admitted request takes one."""

    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.updated = now

    def refill(self, now: float) -> float:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        return self.tokens

    def wait_s(self, now: float) -> float:
        """Seconds until a token is there (0 when one is)."""
        missing = 1.0 - self.refill(now)
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, now: float) -> None:
        self.refill(now)
        self.tokens -= 1.0


class Permit:
    """One admitted request's hold on the limiter; `release()` may be called more than once."""

    def __init__(self, limiter: Limiter, user: str, admitted_at: float, order: int) -> None:
        self.user = user
        self.admitted_at = admitted_at
        self.order = order
        self.started_at: float | None = None
        self.released = False
        self._limiter = limiter

    def start(self) -> None:
        """The request now holds a run slot (it stops waiting)."""
        if self.started_at is None and not self.released:
            self.started_at = self._limiter.clock()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._limiter.release(self)

    def __enter__(self) -> Permit:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def whole_seconds(seconds: float) -> int:
    """What the user is told: a whole number of seconds, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))


class Limiter:
    """Admits a request only while every bound holds; refused requests consume nothing."""

    def __init__(self, limits: Limits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.run_estimate_s = limits.typical_run_s
        self._global = TokenBucket(limits.global_per_minute, clock())
        self._buckets: dict[str, TokenBucket] = {}
        self._permits: dict[int, Permit] = {}
        self._per_user: dict[str, int] = {}
        self._order = 0

    @property
    def admitted(self) -> int:
        return len(self._permits)

    @property
    def running(self) -> int:
        return sum(1 for p in self._permits.values() if p.started_at is not None)

    def held_by(self, user: str) -> int:
        return self._per_user.get(user, 0)

    def admit(self, user: str) -> Permit | Busy:
        now = self.clock()
        limits = self.limits
        refusals: list[tuple[float, str]] = []
        held = self.held_by(user)
        if held >= limits.per_user:
            refusals.append(
                (
                    self._first_free_s(now, user),
                    f"you already have {held} request{'s' if held != 1 else ''} under way "
                    f"(at most {limits.per_user})",
                )
            )
        elif self.admitted >= limits.admitted:
            refusals.append(
                (
                    self._first_free_s(now, None),
                    f"{limits.running} requests are running and {limits.waiting} are waiting",
                )
            )
        bucket = self._buckets.get(user)
        if bucket is not None and (wait := bucket.wait_s(now)) > 0:
            refusals.append(
                (wait, f"you started {limits.user_per_minute} requests in the last minute")
            )
        if (wait := self._global.wait_s(now)) > 0:
            refusals.append(
                (wait, f"it takes at most {limits.global_per_minute} requests a minute")
            )
        if refusals:
            wait_s, why = max(refusals)
            return Busy(why, whole_seconds(wait_s))
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[user] = TokenBucket(limits.user_per_minute, now)
        bucket.take(now)
        self._global.take(now)
        self._order += 1
        permit = Permit(self, user, now, self._order)
        self._permits[id(permit)] = permit
        self._per_user[user] = held + 1
        return permit

    def release(self, permit: Permit) -> None:
        """Called by `Permit.release`; a run that finished updates the duration estimate."""
        if self._permits.pop(id(permit), None) is None:
            return
        left = self._per_user[permit.user] - 1
        if left:
            self._per_user[permit.user] = left
        else:
            del self._per_user[permit.user]
        if permit.started_at is not None:
            took = max(0.0, self.clock() - permit.started_at)
            self.run_estimate_s += _EWMA_WEIGHT * (took - self.run_estimate_s)

    def _first_free_s(self, now: float, user: str | None) -> float:
        """When a hold frees: the user's first to finish, or (user None) any running one.

        A running request is expected to take `run_estimate_s` in all; a waiting one starts
        when the runs ahead of it end, in admission order.
        """
        estimate = self.run_estimate_s
        permits = sorted(self._permits.values(), key=lambda p: p.order)
        running = [(p, p.started_at) for p in permits if p.started_at is not None]
        slots = sorted(max(0.0, estimate - (now - started)) for _, started in running)
        slots += [0.0] * max(0, self.limits.running - len(slots))
        ends = [
            max(0.0, estimate - (now - started))
            for p, started in running
            if user is None or p.user == user
        ]
        for position, p in enumerate(q for q in permits if q.started_at is None):
            if user is None or p.user == user:
                start = slots[position % len(slots)] + (position // len(slots)) * estimate
                ends.append(start + estimate)
        return min(ends, default=estimate)

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled: a full bucket admits exactly as a new one."""
        for user in [u for u, b in self._buckets.items() if b.refill(now) >= b.capacity]:
            del self._buckets[user]
