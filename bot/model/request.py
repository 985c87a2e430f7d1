"""What a user asked for, as a value: the tool, which JVM, the options, and who asked.

Every frontend turns its input into a `Request` through `bot.commands.grammar`; everything
after that (policy, strategies, reports) reads only this type. The options a tool takes are
declared in its catalog entry (`bot/jvm/catalog.py`); here they are only named values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

OptionValue = int | str | bool


@dataclass(frozen=True)
class TargetSelector:
    """Which JVM: a pod (exact name or unique prefix), a deployment or label selector, in a
    cluster (None: the default one)."""

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
class Options(Mapping[str, OptionValue]):
    """A tool's option values by key, defaults included once the grammar built them.

    >>> Options.of(count=3)["count"]
    3
    """

    pairs: tuple[tuple[str, OptionValue], ...] = ()

    @classmethod
    def of(cls, **values: OptionValue) -> Options:
        return cls(tuple(sorted(values.items())))

    def __getitem__(self, key: str) -> OptionValue:
        for name, value in self.pairs:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def number(self, key: str, default: int = 0) -> int:
        value = self.get(key, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def word(self, key: str, default: str = "") -> str:
        value = self.get(key, default)
        return value if isinstance(value, str) else default

    def flag(self, key: str) -> bool:
        return self.get(key) is True

    def merged(self, **changes: OptionValue) -> Options:
        """These options with `changes` set on top."""
        return Options.of(**{**dict(self.pairs), **changes})


@dataclass(frozen=True)
class Requester:
    """Who asked: `kind` names the frontend (`slack`, `terminal`), `user` its user ID (a Slack
    ID, or the OS user), `channel` where they asked, `groups` the user groups the frontend
    found them in (only the ones the policy names)."""

    kind: str = "terminal"
    user: str = "local"
    channel: str | None = None
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Request:
    """One diagnostic to run: `tool` is a catalog name (aliases already resolved);
    `every_pod` runs it on every pod a `deploy=`/`selector=` matches."""

    tool: str
    target: TargetSelector = field(default_factory=TargetSelector)
    options: Options = field(default_factory=Options)
    requester: Requester = field(default_factory=Requester)
    every_pod: bool = False
