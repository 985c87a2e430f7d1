"""One policy rule as matched at request time: who, which clusters and namespaces, which tools.

Globs are compiled into one regex per rule and field when the file is read, so a decision
costs a few dict look-ups and at most two regex matches per candidate rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

EVERYONE = "*"
EXCLUDE = "!"


def _alternatives(patterns: Sequence[str]) -> str:
    return "|".join(fnmatch.translate(pattern) for pattern in patterns)


@dataclass(frozen=True)
class GlobSet:
    """Glob patterns (fnmatch, case-sensitive) where any `!` exclude wins over the includes.

    An unset value (`None`: the request did not name it) matches only a set that admits
    everything, since we cannot know whether the value it stands for is excluded.
    """

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    everything: bool = field(init=False)
    # One regex, excludes as a negative lookahead: a single match call per decision step.
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _exclude: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen for callers; these are derived once here so matching stays cheap.
        object.__setattr__(self, "everything", EVERYONE in self.include and not self.exclude)
        unless = f"(?!{_alternatives(self.exclude)})" if self.exclude else ""
        including = f"(?:{_alternatives(self.include)})" if self.include else "(?!)"
        object.__setattr__(self, "pattern", re.compile(unless + including))
        exclude = re.compile(_alternatives(self.exclude)) if self.exclude else None
        object.__setattr__(self, "_exclude", exclude)

    @classmethod
    def of(cls, patterns: Iterable[str]) -> GlobSet:
        """`["prod-*", "!prod-db"]` → includes and excludes; only excludes means `*` minus them."""
        include = tuple(p for p in patterns if not p.startswith(EXCLUDE))
        exclude = tuple(p[1:] for p in patterns if p.startswith(EXCLUDE))
        return cls(include or (EVERYONE,), exclude)

    def matches(self, value: str | None) -> bool:
        if value is None:
            return self.everything
        return self.pattern.match(value) is not None

    def excludes(self, value: str) -> bool:
        """Whether an exclude (rather than a missing include) keeps `value` out."""
        return self._exclude is not None and self._exclude.match(value) is not None

    def describe(self) -> str:
        return ", ".join([*self.include, *(EXCLUDE + p for p in self.exclude)])


ANYWHERE = GlobSet((EVERYONE,))


@dataclass(frozen=True)
class Rule:
    """Grants `tools` (canonical catalog names, already expanded) to its subjects.

    `bulk` records that the rule used `read-only`, `all` or `*`, so a denial of a mutating
    tool can say why that did not cover it.
    """

    name: str
    namespaces: GlobSet
    tools: frozenset[str]
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    terminal_users: frozenset[str] = frozenset()
    clusters: GlobSet = ANYWHERE
    line: int = 0
    bulk: bool = False

    @property
    def anyone(self) -> bool:
        return any(
            EVERYONE in ids for ids in (self.users, self.groups, self.channels, self.terminal_users)
        )
