"""The options a catalog tool declares: key, parser, range, default, and how each is written.

The grammar, the help text, the command echo and the buttons all read these specs, so an
option is defined once, next to its tool in `bot/jvm/catalog.py`:

    >>> count = whole_number("count", 1, 10, default=1, summary="how many dumps")
    >>> count.parse("3"), count.form, count.text(3)
    (3, 'count=1..10', 'count=3')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.model.request import OptionValue


class OptionError(ValueError):
    """A value does not fit its option; the message is one sentence naming the right form."""


@dataclass(frozen=True)
class OptionSpec:
    """One option: `parse` turns the typed value into its value or raises OptionError;
    `show` writes a value back as the user types it (`5s`); `flag` options are a bare word
    (`all`) and take no value."""

    key: str
    default: OptionValue
    form: str
    summary: str
    parse: Callable[[str], OptionValue] = field(compare=False)
    show: Callable[[OptionValue], str] = field(default=str, compare=False)
    flag: bool = False

    def text(self, value: OptionValue) -> str:
        """The word that sets `value`: `count=3`, `interval=5s`, or `all` for a flag."""
        return self.key if self.flag else f"{self.key}={self.show(value)}"


_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_SECONDS = re.compile(r"([0-9]+)([sm]?)", re.ASCII | re.IGNORECASE)


def whole_number(key: str, low: int, high: int, *, default: int, summary: str) -> OptionSpec:
    """`key=N` with `low <= N <= high`."""
    form = f"{key}={low}..{high}"

    def parse(value: str) -> int:
        if not _DIGITS.fullmatch(value):
            raise OptionError(f'{key} "{value}" is not a whole number; use {form}.')
        # More than 10 digits is out of every range; skip int() on absurdly long strings.
        number = int(value) if len(value) <= 10 else high + 1
        if not low <= number <= high:
            raise OptionError(f"{key}={value} is out of range; use {form}.")
        return number

    return OptionSpec(key, default, form, summary, parse)


def seconds(key: str, low: int, high: int, *, default: int, summary: str) -> OptionSpec:
    """`key=5s`, `key=1m` or `key=5` (seconds), within `low..high` seconds."""
    form = f"{key}={_duration(low)}..{_duration(high)}"

    def parse(value: str) -> int:
        match = _SECONDS.fullmatch(value)
        hint = f"use {form}, e.g. {key}={_duration(default)}"
        if not match:
            raise OptionError(f'{key} "{value}" is not a duration; {hint}.')
        digits, unit = match.groups()
        # More than 5 digits is out of range whatever the unit; skip int() on long strings.
        number = int(digits) * (60 if unit.lower() == "m" else 1) if len(digits) <= 5 else -1
        if not low <= number <= high:
            raise OptionError(f"{key}={value} is out of range; {hint}.")
        return number

    def show(value: OptionValue) -> str:
        return f"{value}s"

    return OptionSpec(key, default, form, summary, parse, show)


def choice(key: str, choices: Sequence[str], *, default: str, summary: str) -> OptionSpec:
    """`key=ONE` of `choices`, case-insensitively; the value is the choice as declared."""
    by_lower = {c.lower(): c for c in choices}
    form = f"{key}={'|'.join(choices)}"

    def parse(value: str) -> str:
        found = by_lower.get(value.lower())
        if found is None:
            raise OptionError(f'{key} "{value}" is not one of {", ".join(choices)}; use {form}.')
        return found

    return OptionSpec(key, default, form, summary, parse)


def flag(key: str, *, summary: str) -> OptionSpec:
    """A bare word such as `all`; present means True."""

    def parse(value: str) -> bool:
        raise OptionError(f'"{key}={value}" takes no value; write just {key}.')

    return OptionSpec(key, False, key, summary, parse, flag=True)


def _duration(value: int) -> str:
    return f"{value}s"
