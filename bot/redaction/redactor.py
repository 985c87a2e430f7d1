"""Replace secret-looking values in tool output before anything leaves the bot.

Which keys look secret, which URL query parameters carry credentials and which token formats
are recognised is data (`rules.yaml`, extendable from a file), so operators can add
their own names. Text is scanned left to right with forward-only searches, so the cost is
linear in its size; every rule but PEM blocks and Properties continuations stays within a
line, so output can be redacted in chunks that end at line breaks; and `‹redacted›` is never
replaced again, so redacting twice changes nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from bot.jvm.sysprops import unescape_property
from bot.redaction.rules import (
    REDACTED,
    RedactionRules,
    RedactionRulesError,
    _default_rules,
)

# Words of a key: `keyStorePassword` -> key, Store, Password; `APIKey` -> API, Key.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")

# Where a value may start: each kind of anchor is found with its own forward scan (str.find
# or a pattern with a literal prefix), so every scan moves forward only.
_ORACLE = re.compile(r"jdbc:oracle:[A-Za-z0-9]+:")
_JSON_MEMBER = re.compile(r'"[ \t]*:[ \t]*(?=")')
# On command lines `--password hunter2` also passes a value (`-Dname` never takes one).
_FLAG = re.compile(r"[ \t](--?[A-Za-z][\w.\-]*)[ \t]+(?=[^\s\-])")
_VALUE = re.compile(r'"[^"\n]*"|\'[^\'\n]*\'|\S+')
# Inside a URL query (`?password=pw&x=1`) a value ends at the next parameter.
_QUERY_VALUE = re.compile(r"[^&#;\s\"'<>]+")
_QUERY_CONTEXT = frozenset("?&;")
# Up to the last `@` of the authority, so a password holding `@` is not half-kept.
_USERINFO = re.compile(r"[^\s/?#\"'<>]*@")
# jdbc:oracle:thin:scott/tiger@host puts the credentials before any `//`.
_ORACLE_USER = re.compile(r"[^\s@/\"']*")
_ORACLE_PASSWORD = re.compile(r"[^\s@\"']*")
# What ends one of the scans above; a replaced value holding one may unblock an earlier scan.
_SCAN_STOPPER = re.compile(r"[\s/?#\"'<>@\\]")
_JSON_VALUE = re.compile(r'"(?:[^"\\\n]|\\.)*"')

# java.util.Properties: a key runs to an unescaped `=`, `:` or blank; the value starts
# after blanks, at most one `=` or `:`, and more blanks.
_BLANKS = " \t\f"
_PROPERTY_KEY = re.compile(r"[ \t\f]*((?:[^\\=: \t\f]|\\.)*)[ \t\f]*[=:]?[ \t\f]*")
_PROPERTY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}
    | {c: "\\" + c for c in "=:#!"}
)

_MAX_PASSES = 8


@dataclass(frozen=True)
class Redactor:
    """Replaces secret-looking values by `‹redacted›`, parsing each tool's output its own way.

    >>> Redactor.default().redact("-Ddb.password=hunter2 -Xmx1g", "command_lines")
    ('-Ddb.password=‹redacted› -Xmx1g', 1)
    """

    rules: RedactionRules
    _value_patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _substrings: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _pairs: frozenset[tuple[str, ...]] = field(init=False, repr=False, compare=False)
    # Text that every secret key contains (lower-cased); most keys are ruled out by it alone.
    _hints: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _key_hint: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _query_hint: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rules.check("redaction rules")
        rules = self.rules
        pairs = frozenset(tuple(p.lower().split()) for p in rules.secret_word_pairs)
        hints = {
            *(s.lower() for s in rules.secret_substrings),
            *(w.lower() for w in rules.secret_words),
            *(e.lower() for e in rules.secret_word_endings),
            *(s.lower() for s in rules.secret_key_suffixes),
            *(pair[0] for pair in pairs),
        }
        # `pass` already finds `password`: fewer hints, fewer scans.
        hints = {h for h in hints if not any(o != h and o in h for o in hints)}
        queries = {w.lower() for w in rules.query_words}
        substrings = "|".join(re.escape(s.lower()) for s in rules.secret_substrings)
        set_ = object.__setattr__
        set_(self, "_value_patterns", tuple(re.compile(p) for p in rules.value_patterns))
        set_(self, "_substrings", re.compile(substrings) if substrings else None)
        set_(self, "_pairs", pairs)
        set_(self, "_hints", tuple(sorted(hints | queries)))
        set_(self, "_key_hint", _any_of(hints))
        set_(self, "_query_hint", _any_of(queries))

    @classmethod
    def default(cls) -> Redactor:
        """The built-in rules of `bot/redaction/rules.yaml`."""
        return cls(_default_rules())

    @classmethod
    def from_file(cls, path: str | Path) -> Redactor:
        """Rules from a YAML file, added to the built-in ones unless `extend_defaults: false`."""
        try:
            data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise RedactionRulesError(f"{path}: cannot read redaction rules: {error}") from error
        return cls(RedactionRules.from_mapping(data, str(path), _default_rules()))

    def redact(self, text: str, mode: str = "text") -> tuple[str, int]:
        """`text` with secret-looking values replaced, and how many were replaced.

        `mode` is the tool's redaction mode from the catalog: `properties` (Java Properties
        text), `command_lines` (one command line per line, `--password x` pairs too), or
        `text` (the generic rules).
        """
        text, count = self._redact_tokens(text)
        if mode == "properties":
            text, found = self._redact_properties(text)
        else:
            text, found = self._redact_settled(text, arguments=mode == "command_lines")
        return text, count + found

    def _redact_tokens(self, text: str) -> tuple[str, int]:
        """Replace the well-known token formats of `value_patterns`."""
        count = 0
        for pattern in self._value_patterns:
            text, replaced = pattern.subn(REDACTED, text)
            count += replaced
        return text, count

    def is_secret_key(self, key: str, *, in_query: bool = False) -> bool:
        """Whether the value of `key` (`-Dname`, `--name`, `NAME` or, with `in_query`, a URL
        query parameter) should be hidden."""
        rules = self.rules
        name = key[2:] if key.startswith("-D") else key.lstrip("-")
        lowered = name.lower()
        in_query = in_query and self._query_hint.search(lowered) is not None
        if not in_query and self._key_hint.search(lowered) is None:
            return False
        if name in rules.not_secret_keys:
            return False
        words = [w.lower() for w in _WORDS.findall(name)]
        if not words or (len(words) > 1 and words[-1] in rules.describing_words):
            return False
        if in_query and words[-1] in rules.query_words:
            return True
        endings = rules.secret_word_endings
        for word in words:
            if word in rules.secret_words or word.endswith(endings):
                return True
            if self._substrings is not None and self._substrings.search(word):
                return True
        if any(pair in self._pairs for pair in pairwise(words)):
            return True
        return len(words) > 1 and lowered.endswith(rules.secret_key_suffixes)

    def _redact_settled(self, text: str, *, arguments: bool) -> tuple[str, int]:
        """`_redact_text` until nothing more could be found.

        A replaced value holding `/`, a quote or a line break may have been what stopped an
        earlier scan (a URL's authority before its `@`), so then one more pass may find one
        more value. Values of letters and digits never do; the cap keeps crafted text linear.
        """
        total = 0
        for _ in range(_MAX_PASSES):
            text, found, unsettled = self._redact_text(text, arguments=arguments)
            total += found
            if not unsettled:
                break
        return text, total

    def _redact_text(self, text: str, *, arguments: bool) -> tuple[str, int, bool]:
        """Generic rules: secret `KEY=VALUE` pairs, JSON members, URL user-info and query
        credentials, and with `arguments` also `--secret VALUE`. Also says whether a
        replaced value held a character that ends a scan (see `_redact_settled`)."""
        finders = _anchor_finders(text, arguments)
        upcoming = [-2] * len(finders)  # next anchor of each kind; -2 unknown, -1 none left
        pieces: list[str] = []
        count = done = pos = 0
        unsettled = False
        while True:
            kind, at = -1, len(text)
            for index, find in enumerate(finders):
                next_at = upcoming[index]
                if next_at != -1 and next_at < pos:
                    upcoming[index] = next_at = find(pos)
                if 0 <= next_at < at:
                    kind, at = index, next_at
            if kind < 0:
                break
            value, pos = self._value_at(text, kind, at, pos)
            if value is not None and text[value[0] : value[1]] not in ("", REDACTED):
                pieces += (text[done : value[0]], REDACTED)
                unsettled = unsettled or _SCAN_STOPPER.search(text, value[0], value[1]) is not None
                done = value[1]
                count += 1
        if not count:
            return text, 0, False
        pieces.append(text[done:])
        return "".join(pieces), count, unsettled

    def _value_at(
        self, text: str, kind: int, at: int, scanned: int
    ) -> tuple[tuple[int, int] | None, int]:
        """The secret value (span) at an anchor, if any, and where scanning goes on.

        `scanned` is where the scan stood: text before it belongs to earlier anchors.
        """
        if kind == _URL:
            after = at + 3
            found = _USERINFO.match(text, after)
            return ((after, found.end() - 1), found.end()) if found else (None, after)
        if kind == _ORACLE_URL:
            prefix = _ORACLE.match(text, at)
            assert prefix is not None  # the finder matched here
            # On failure the scan skips what it read, so crafted text stays linear.
            user = _ORACLE_USER.match(text, prefix.end())
            assert user is not None  # the pattern may match empty text
            if user.end() == prefix.end() or not text.startswith("/", user.end()):
                return None, user.end()
            password = _ORACLE_PASSWORD.match(text, user.end() + 1)
            assert password is not None  # the pattern may match empty text
            if password.end() > user.end() + 1 and text.startswith("@", password.end()):
                return (prefix.end(), password.end()), password.end() + 1
            return None, password.end()
        if kind == _PAIR:
            start = at
            while start > scanned and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
                start -= 1
            in_query = start > 0 and text[start - 1] in _QUERY_CONTEXT
            if start < at and self.is_secret_key(text[start:at], in_query=in_query):
                found = (_QUERY_VALUE if in_query else _VALUE).match(text, at + 1)
                if found:
                    return _unquoted(found), found.end()
            return None, at + 1
        if kind == _JSON:
            member = _JSON_MEMBER.match(text, at)
            assert member is not None  # the finder matched here
            opening = text.rfind('"', max(scanned, at - 201), at)
            key = text[opening + 1 : at]
            if opening >= 0 and key and "\\" not in key and "\n" not in key:
                found = _JSON_VALUE.match(text, member.end())
                if found and self.is_secret_key(key):
                    return (found.start() + 1, found.end() - 1), found.end()
            return None, member.end()
        flag = _FLAG.match(text, at)
        assert flag is not None  # the finder matched here
        if not flag[1].startswith("-D") and self.is_secret_key(flag[1]):
            found = _VALUE.match(text, flag.end())
            if found:
                return _unquoted(found), found.end()
        return None, flag.end()

    def _redact_properties(self, text: str) -> tuple[str, int]:
        """`java.util.Properties` text: a secret key's whole value is replaced; other values
        get the generic rules, and are written back escaped only when something changed.

        Only lines holding a hint of a secret (a secret word, `@`, `"`, a trailing `\\`) are
        parsed, which keeps a 5 MB output well under a second.
        """
        pieces: list[str] = []
        count = done = read = 0
        for start in self._property_candidates(text):
            if start < read:  # already read as part of a continued line
                continue
            end, replacement, found = self._property_line(text, start)
            read = end
            if replacement is not None:
                pieces += (text[done:start], replacement)
                done = end
                count += found
        if not count:
            return text, 0
        pieces.append(text[done:])
        return "".join(pieces), count

    def _property_candidates(self, text: str) -> list[int]:
        """Sorted starts of the lines that may hold something to redact."""
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters lower-case to two; read every line
            return [0, *(found.end() for found in re.finditer("\n", text))]
        starts: set[int] = set()
        # `\u00` also finds keys that spell a secret word in escapes; Properties.store
        # escapes no letter, so other escapes are not looked for.
        for needle in (*self._hints, "@", '"', "\\u00", "\\\n", "\\\r\n"):
            found = lowered.find(needle)
            while found >= 0:
                starts.add(text.rfind("\n", 0, found) + 1)
                found = lowered.find(needle, text.find("\n", found) + 1 or len(text))
        if text.endswith("\\"):
            starts.add(text.rfind("\n") + 1)
        return sorted(starts)

    def _property_line(self, text: str, start: int) -> tuple[int, str | None, int]:
        """Redact the logical line at `start`: (its end, replacement or None, count)."""
        end = _line_end(text, start)
        line = text[start:end]
        stripped = line.lstrip(_BLANKS)
        if not stripped or stripped == "\r" or stripped[0] in "#!":
            redacted, found = self._redact_settled(line, arguments=False)
            return end, (redacted if found else None), found
        ending = "\r" if stripped.endswith("\r") else ""
        parts = [stripped[: len(stripped) - len(ending)]]
        while _continues(parts[-1]):
            parts[-1] = parts[-1][:-1]  # the backslash joins, and at the very end is dropped
            if end >= len(text):
                break
            start_of_more, end = end + 1, _line_end(text, end + 1)
            more = text[start_of_more:end]
            ending = "\r" if more.endswith("\r") else ""
            parts.append(more[: len(more) - len(ending)].lstrip(_BLANKS))
        logical, found = "".join(parts), 0
        if len(parts) > 1:  # joined, the lines may spell a token that a line break split
            logical, found = self._redact_tokens(logical)
        head = _PROPERTY_KEY.match(logical)
        assert head is not None  # every part of the pattern may match empty text
        key_text, raw_value = logical[: head.end()], logical[head.end() :]
        if key_text.startswith(("#", "!")):  # it followed a continued empty line
            key_text = "\\" + key_text
        if self.is_secret_key(unescape_property(head[1])):
            if raw_value and raw_value != REDACTED:
                raw_value, found = REDACTED, found + 1
            return end, (key_text + raw_value + ending if found else None), found
        # Token formats again, now that escapes such as `\0` no longer split them.
        value, tokens = self._redact_tokens(unescape_property(raw_value))
        value, settled = self._redact_settled(value, arguments=True)
        found += tokens + settled
        if not found:
            return end, None, 0
        return end, key_text + _escape_property(value) + ending, found


_URL, _ORACLE_URL, _PAIR, _JSON, _ARGUMENT = range(5)


def _anchor_finders(text: str, arguments: bool) -> list[Callable[[int], int]]:
    """Per anchor kind (in `_URL`... order), where its next one starts at or after a position."""

    def by_pattern(pattern: re.Pattern[str]) -> Callable[[int], int]:
        def find(pos: int) -> int:
            found = pattern.search(text, pos)
            return found.start() if found else -1

        return find

    def by_text(needle: str) -> Callable[[int], int]:
        return lambda pos: text.find(needle, pos)

    finders = [by_text("://"), by_pattern(_ORACLE), by_text("="), by_pattern(_JSON_MEMBER)]
    if arguments:
        finders.append(by_pattern(_FLAG))
    return finders


def _any_of(words: set[str]) -> re.Pattern[str]:
    """A pattern finding any of `words`, or nothing when there are none."""
    return re.compile("|".join(re.escape(w) for w in sorted(words)) or r"(?!)")


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _unquoted(found: re.Match[str]) -> tuple[int, int]:
    """The span of a value, inside its quotes when it is quoted."""
    start, end = found.span()
    if end - start >= 2 and found[0][0] in "\"'" and found[0][-1] == found[0][0]:
        return start + 1, end - 1
    return start, end


def _continues(logical: str) -> bool:
    """Whether a Properties line ends in an odd number of backslashes (it goes on)."""
    return logical.endswith("\\") and (len(logical) - len(logical.rstrip("\\"))) % 2 == 1


def _escape_property(value: str) -> str:
    """Escape a value as `Properties.store` does, except that other characters than ASCII
    stay as they are (readable, and at most twice as long as the value)."""
    escaped = value.translate(_PROPERTY_ESCAPES)
    return "\\" + escaped if escaped.startswith(" ") else escaped
