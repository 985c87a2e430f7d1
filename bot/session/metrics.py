"""Prometheus metrics of one jdebug process, served at `/metrics` on the health port.

One registry per service (not the client's global one), so several bots in one test process
keep their own counts. Names follow Prometheus' conventions: `_total` counters, base units.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A diagnostic takes from a tenth of a second (flags) to minutes (a profile).
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "jdebug_requests",
            "Requests that ran, by tool, outcome and strategy",
            ("tool", "outcome", "strategy"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "jdebug_request_duration_seconds",
            "Time from admission to the answer, by tool",
            ("tool",),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "jdebug_requests_in_flight", "Requests running now", registry=self.registry
        )
        self.waiting = Gauge(
            "jdebug_requests_waiting",
            "Admitted requests waiting for a slot",
            registry=self.registry,
        )
        self.refusals = Counter(
            "jdebug_refusals",
            "Requests refused before anything ran, by reason",
            ("reason",),
            registry=self.registry,
        )
        self.leader = Gauge(
            "jdebug_leader",
            "1 while this replica holds the janitor's Lease",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
