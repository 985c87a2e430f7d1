"""Request accounting: how many requests kubesim served, per User-Agent and per verb, resource and
subresource (or path, for discovery and other non-resource requests), so a test or benchmark can
count the round trips one diagnosis costs.

Every request that reaches the server is counted once, refused ones included (401, 403, faults),
except those to the accounting endpoint itself: `GET /kubesim/requests` answers the counts and
`DELETE /kubesim/requests` resets them, both for system:masters only (kubesim's admin).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

PATH = "/kubesim/requests"


@dataclass(frozen=True, order=True)
class RequestKind:
    """One kind of request: the verb as RBAC sees it and what it acts on."""

    user_agent: str
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    path: str = ""  # non-resource requests only

    def to_json(self, count: int) -> dict[str, Any]:
        return {
            "userAgent": self.user_agent,
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "path": self.path,
            "count": count,
        }


@dataclass(frozen=True)
class RequestCounts:
    """A snapshot of the counts, e.g. `counts.total`, `counts.of("patch", "pods",
    "ephemeralcontainers")`, `counts.by_user_agent()`."""

    counts: tuple[tuple[RequestKind, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def of(self, verb: str, resource: str, subresource: str = "", user_agent: str = "") -> int:
        """Requests with this verb on this resource (any group), from one User-Agent if given."""
        return sum(
            n
            for kind, n in self.counts
            if (kind.verb, kind.resource, kind.subresource) == (verb, resource, subresource)
            and (not user_agent or kind.user_agent == user_agent)
        )

    def by_user_agent(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for kind, n in self.counts:
            out[kind.user_agent] += n
        return dict(out)

    def by_request(self) -> dict[str, int]:
        """`verb resource[/subresource]` (or `verb path`) to its count, every client together."""
        out: Counter[str] = Counter()
        for kind, n in self.counts:
            what = kind.path or (
                f"{kind.resource}/{kind.subresource}" if kind.subresource else kind.resource
            )
            if kind.group:
                what = f"{what}.{kind.group}"
            out[f"{kind.verb} {what}"] += n
        return dict(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "RequestCounts",
            "total": self.total,
            "requests": [kind.to_json(n) for kind, n in self.counts],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RequestCounts:
        rows = doc.get("requests") or []
        return cls(
            tuple(
                (
                    RequestKind(
                        str(r["userAgent"]),
                        str(r["verb"]),
                        str(r.get("group", "")),
                        str(r.get("resource", "")),
                        str(r.get("subresource", "")),
                        str(r.get("path", "")),
                    ),
                    int(r["count"]),
                )
                for r in rows
            )
        )


class RequestLedger:
    """The live counts. The server's loop writes them and a test's thread reads them, so a
    lock keeps each read whole."""

    def __init__(self) -> None:
        self._counts: Counter[RequestKind] = Counter()
        self._lock = threading.Lock()

    def record(self, kind: RequestKind) -> None:
        with self._lock:
            self._counts[kind] += 1

    def snapshot(self) -> RequestCounts:
        with self._lock:
            return RequestCounts(tuple(sorted(self._counts.items())))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
