"""Parse `VM.system_properties`, which the JVM writes with `java.util.Properties.store`.

`parse_properties` reads the whole Properties text format as `Properties.load` does: comment
lines, `=`/`:`/whitespace separators, backslash escapes, `\\uXXXX` (surrogate pairs joined)
and line continuations. The summary names the runtime, OS and user, plus a few paths; other
properties are listed by name only, because their values may hold secrets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.model.request import Options
from bot.model.results import Analysis

_BLANKS = " \t\f"
_ESCAPED = {"t": "\t", "r": "\r", "n": "\n", "f": "\f"}
_HEX = frozenset("0123456789abcdefABCDEF")
# Namespaces the JDK itself fills; anything else came from -D or the application.
_JDK_PREFIXES = (
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "os.",
    "user.",
    "file.",
    "line.",
    "path.",
    "native.",
    "stdout.",
    "stderr.",
    "stdin.",
    "awt.",
)
_PATHS = ("java.home", "user.dir", "java.io.tmpdir")


def _logical_lines(text: str) -> Iterator[str]:
    """Natural lines joined at odd trailing backslashes; comments and blank lines dropped."""
    end = len(text)
    pos = 0
    line: list[str] = []
    skip_blanks = True  # at the start of a natural line
    continued = False  # the natural line began after a continuation
    backslash = False  # the last character is an unpaired backslash
    while pos < end:
        char = text[pos]
        pos += 1
        if skip_blanks:
            if char in _BLANKS or (not continued and char in "\r\n"):
                continue
            skip_blanks = continued = False
        if not line and char in "#!":
            while pos < end and text[pos] not in "\r\n":
                pos += 1
            pos += 1
            skip_blanks = True
            continue
        if char not in "\r\n":
            line.append(char)
            backslash = not backslash if char == "\\" else False
            continue
        if not line:
            skip_blanks = True
        elif backslash and pos < end:
            line.pop()
            skip_blanks = continued = True
            backslash = False
            if char == "\r" and text[pos] == "\n":
                pos += 1
        else:
            yield "".join(line[:-1] if backslash else line)
            line, skip_blanks, backslash = [], True, False
    if line:
        yield "".join(line[:-1] if backslash else line)


def _unescape(raw: str, problems: list[str]) -> str:
    """Undo `Properties.store` escaping; a malformed `\\uXXXX` is kept as written."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    pos = 0
    while pos < len(raw):
        char = raw[pos]
        pos += 1
        if char != "\\" or pos >= len(raw):
            out.append(char)
            continue
        char = raw[pos]
        pos += 1
        if char == "u":
            digits = raw[pos : pos + 4]
            if len(digits) == 4 and all(d in _HEX for d in digits):
                out.append(chr(int(digits, 16)))
                pos += 4
            else:
                problems.append(f"malformed \\u escape: \\u{digits}")
                out.append("\\u")
        else:
            out.append(_ESCAPED.get(char, char))
    value = "".join(out)
    if any("\ud800" <= c <= "\udfff" for c in value):
        # `\uD83D\uDE00` names one character as two UTF-16 halves, as Java strings do.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return value


def unescape_property(raw: str) -> str:
    """One key or value with `Properties.store` escaping undone (redaction uses it too)."""
    return _unescape(raw, [])


def _split(line: str) -> tuple[str, str, bool]:
    """Raw key, raw value, and whether a `=` or `:` separated them."""
    key_end = len(line)
    value_start = len(line)
    has_separator = False
    backslash = False
    for index, char in enumerate(line):
        if not backslash and char in "=:":
            key_end, value_start, has_separator = index, index + 1, True
            break
        if not backslash and char in _BLANKS:
            key_end, value_start = index, index + 1
            break
        backslash = not backslash if char == "\\" else False
    while value_start < len(line):
        char = line[value_start]
        if char not in _BLANKS:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return line[:key_end], line[value_start:], has_separator


@dataclass(frozen=True)
class PropertiesText:
    """Properties read from text, and what in it was not well-formed."""

    values: dict[str, str]
    problems: tuple[str, ...] = ()
    lines_without_separator: int = 0  # split at blanks only, or a key alone


def read_properties(text: str) -> PropertiesText:
    """Read Properties text like `Properties.load(Reader)`, noting instead of raising."""
    values: dict[str, str] = {}
    problems: list[str] = []
    bare = 0
    for line in _logical_lines(text):
        raw_key, raw_value, has_separator = _split(line)
        if not has_separator:
            bare += 1
        values[_unescape(raw_key, problems)] = _unescape(raw_value, problems)
    return PropertiesText(values, tuple(problems), bare)


def parse_properties(text: str) -> dict[str, str]:
    """Key -> value for Properties text, as `java.util.Properties.load` would read it."""
    return read_properties(text).values


def _headline(props: dict[str, str]) -> str:
    parts: list[str] = []
    version = props.get("java.version")
    vendor = props.get("java.vendor")
    os_name = " ".join(p for p in (props.get("os.name"), props.get("os.arch")) if p)
    if version:
        runtime = f"Java {version}" + (f" ({vendor})" if vendor else "")
        parts.append(f"{runtime} on {os_name}" if os_name else runtime)
    elif os_name:
        parts.append(os_name)
    if props.get("user.name"):
        parts.append(f"user {props['user.name']}")
    if props.get("file.encoding"):
        parts.append(f"file.encoding {props['file.encoding']}")
    return ", ".join(parts) if parts else f"{len(props)} system properties"


def summarise_sysprops(texts: Sequence[str], options: Options) -> Analysis:
    """Headline: runtime, OS, user and encoding; findings: key paths, non-JDK property names."""
    notes: list[str] = []
    if len(texts) > 1:
        notes.append(f"{len(texts)} outputs were given; this summarises the first.")
    parsed = read_properties(texts[0] if texts else "")
    props = parsed.values
    if parsed.problems:
        notes.append(
            f"{len(parsed.problems)} escape(s) were malformed and kept as written, "
            f"e.g. {parsed.problems[0]}."
        )
    if parsed.lines_without_separator:
        notes.append(
            f"{parsed.lines_without_separator} line(s) had no `=` or `:`, which "
            "VM.system_properties always writes."
        )
    if not props:
        notes.append("No properties were recognised: is this VM.system_properties output?")
        return Analysis("No system properties found in the output", (), tuple(notes))
    if "java.version" not in props:
        notes.append("There is no java.version: is this VM.system_properties output?")

    findings = [f"{name}: {props[name]}" for name in _PATHS if name in props]
    others = sorted(k for k in props if not k.startswith(_JDK_PREFIXES))
    if others:
        shown = ", ".join(others[:20])
        if len(others) > 20:
            shown += f" and {len(others) - 20} more"
        findings.append(f"Not from the JDK (names only): {shown}")
    findings.append(f"{len(props)} properties in total")
    return Analysis(_headline(props), tuple(findings), tuple(notes))
