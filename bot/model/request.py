"""What a user asked for, as a value: the tool, which JVM, the options, and who asked.

Every frontend (Slack, terminal) turns its input into a `Request` through `bot.commands.grammar`;
everything after that (policy, strategies, reports) reads only this type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class TargetSelector:
    """Which JVM: a pod (exact name or unique prefix), a deployment or label selector."""

    pod: str | None = None
    namespace: str | None = None
    container: str | None = None
    pid: int | None = None
    deploy: str | None = None
    selector: tuple[tuple[str, str], ...] = ()
    cluster: str | None = None

    def describe(self) -> str:
        """A short human form, e.g. `prod/cowweb` or `deploy/web (ns default)`."""
        if self.pod:
            where = f"{self.namespace}/{self.pod}" if self.namespace else self.pod
        elif self.deploy:
            where = f"deploy/{self.deploy}"
        elif self.selector:
            where = ",".join(f"{k}={v}" for k, v in self.selector)
        else:
            where = "the only JVM"
        if self.container:
            where += f" container={self.container}"
        if self.pid is not None:
            where += f" pid={self.pid}"
        return where


@dataclass(frozen=True)
class Options:
    """Tool options; each tool says in the catalog which of them it takes.

    `all` is the tool's own `-all` (flags, histo); `every_pod` runs on every pod a
    `deploy=`/`selector=` matches (the user types `all` for both; the target decides).
    """

    count: int = 1
    interval_s: int = 5
    top: int = 20
    all: bool = False
    every_pod: bool = False


@dataclass(frozen=True)
class Requester:
    """Who asked: a Slack user in a channel, or the local terminal user."""

    kind: Literal["local", "slack"] = "local"
    user: str = "local"
    channel: str | None = None


@dataclass(frozen=True)
class Request:
    """One diagnostic to run: `tool` is a catalog name (aliases already resolved)."""

    tool: str
    target: TargetSelector = field(default_factory=TargetSelector)
    options: Options = field(default_factory=Options)
    requester: Requester = field(default_factory=Requester)
