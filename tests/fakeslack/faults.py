"""Planned misbehaviour: answers the fake gives instead of the normal one, and slow answers.

Failures are queued per method and used up one request at a time, so a test can say
"the next chat.postMessage is rate limited" and the SDK's retry then goes through.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

# Pseudo-method names for the two endpoints that are not Web API methods.
UPLOAD = "upload"
RESPONSE_URL = "response_url"

# What Slack puts in the body for each failing HTTP status. 429 carries `ratelimited`
# (api.slack.com/docs/rate-limits); `fatal_error` and `service_unavailable` are Slack's
# documented generic errors for the server side.
_ERROR_FOR_STATUS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}


@dataclass(frozen=True)
class Fault:
    """One answer to give instead of the real one."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    # Close the connection without an answer: the network or a proxy failing mid-call.
    drop: bool = False

    def body(self) -> dict[str, Any]:
        error = self.error or _ERROR_FOR_STATUS.get(self.status, "fatal_error")
        return {"ok": False, "error": error}

    def headers(self) -> dict[str, str]:
        if self.status == 429:
            return {"Retry-After": str(1 if self.retry_after is None else self.retry_after)}
        return {}


class FaultPlan:
    """The queue of faults and the delays, per method; a `None` in a queue lets one call
    through, so "the second upload fails" is `after=1`."""

    def __init__(self) -> None:
        self._faults: defaultdict[str, deque[Fault | None]] = defaultdict(deque)
        self._delays: dict[str, float] = {}

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
        drop: bool = False,
    ) -> None:
        if status == 200 and error is None and not drop:
            raise ValueError("a fault with HTTP 200 needs an error, e.g. error='not_in_channel'")
        self._faults[method].extend([None] * after)
        for _ in range(times):
            self._faults[method].append(
                Fault(status=status, error=error, retry_after=retry_after, drop=drop)
            )

    def delay(self, method: str, seconds: float) -> None:
        if seconds <= 0:
            self._delays.pop(method, None)
        else:
            self._delays[method] = seconds

    def take(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    def delay_for(self, method: str) -> float:
        return self._delays.get(method, 0.0)

    def pending(self, method: str) -> int:
        return sum(1 for f in self._faults.get(method, ()) if f is not None)

    def clear(self) -> None:
        self._faults.clear()
        self._delays.clear()
