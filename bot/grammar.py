"""The command grammar: the text after `/jdebug` becomes a `Request` or a `HelpRequest`.

This is the only door user text comes through, so it is strict: tools come from the catalog,
names must be valid Kubernetes names, numbers have bounds, and anything else raises a
`GrammarError` whose one-sentence message names the bad word and shows the right form.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from bot.errors import GrammarError
from bot.request import Options, Request, Requester, TargetSelector
from bot.tools import CATALOG, Tool, find_tool, tool_names

MAX_COMMAND_CHARS = 1000
PID_RANGE = range(1, 4_194_304 + 1)  # Linux's PID_MAX_LIMIT
COUNT_RANGE = range(1, 10 + 1)
INTERVAL_RANGE_S = range(1, 60 + 1)
TOP_RANGE = range(1, 500 + 1)


@dataclass(frozen=True)
class HelpRequest:
    """The user asked for usage: all of it (`topic` None) or one tool's (its catalog name)."""

    topic: str | None = None


# Kubernetes' own definitions (apimachinery validation): a label is one DNS-1123 label, a
# subdomain is dot-separated labels; label-selector names also allow upper case, '_' and '.'.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII
)
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_INTERVAL = re.compile(r"([0-9]+)([sm]?)", re.ASCII | re.IGNORECASE)

_HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
_ALL_WORD = "all"

# Key as typed -> the field it sets. Short forms mirror kubectl's -c and -l.
_KEYS: dict[str, str] = {
    "pod": "pod",
    "ns": "namespace",
    "namespace": "namespace",
    "container": "container",
    "c": "container",
    "pid": "pid",
    "deploy": "deploy",
    "selector": "selector",
    "l": "selector",
    "count": "count",
    "interval": "interval",
    "top": "top",
}
_TARGET_KINDS = ("pod", "deploy", "selector")
_OPTION_FIELDS = frozenset({"count", "interval", "top"})

# kubectl's `pod/NAME` and `deploy/NAME` resource forms win over the `ns/NAME` shorthand:
# a namespace called "pod" or "deploy" is far rarer than kubectl habits (use ns= for it).
_KUBECTL_KINDS: dict[str, str] = {
    "po": "pod",
    "pod": "pod",
    "pods": "pod",
    "deploy": "deploy",
    "deployment": "deploy",
    "deployments": "deploy",
}

# kubectl flags people type from habit, and the jdebug form to suggest instead.
_FLAG_HINTS: dict[str, str] = {
    "-n": "ns=NAMESPACE",
    "--namespace": "ns=NAMESPACE",
    "-c": "container=NAME",
    "--container": "container=NAME",
    "-l": "selector=key=value",
    "--selector": "selector=key=value",
    "-p": "pod=NAME",
}

# Slack (and phones) turn quotes into typographic ones and people wrap words in `code`; a
# pair of these around a whole command, word or value is formatting, not part of the name.
_WRAPPERS = frozenset("\"'`“”‘’„‚«»‹›")
# Invisible characters that copy-paste and Slack's composer leave inside words.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Slack always HTML-escapes these three in command text.
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# Slack may auto-link a dotted name: `<http://a.b|a.b>` or `<http://a.b>`.
_SLACK_LINK = re.compile(r"<(?:https?://|mailto:)([^<>|\s]*)(?:\|([^<>\s]*))?>", re.IGNORECASE)


def parse_command(text: str, requester: Requester | None = None) -> Request | HelpRequest:
    """Parse what a user typed after `/jdebug`.

    >>> parse_command("td prod/cowweb count=3").target.namespace
    'prod'

    Empty text, `help` and `help <tool>` give a `HelpRequest`; every other mistake raises
    `GrammarError` with one sentence for the user.

    Forgiven, because Slack and phones produce them: any run of Unicode whitespace; full-width
    characters (NFKC); zero-width characters; Slack's `&lt;`/`&gt;`/`&amp;` and auto-links
    `<http://a.b|a.b>`; a leading `/jdebug`; a code block, backticks or (smart) quotes wrapping
    the whole command, a whole word or a whole value; a space after a comma in a selector.
    Quotes, backticks, `$`, `;` anywhere else are just invalid characters: no shell rules apply.
    `pod/NAME` and `deploy/NAME` are kubectl's resource forms; any other `A/B` is namespace/pod.
    """
    words = _split_words(text)
    if not words:
        return HelpRequest()
    head, rest = words[0], words[1:]
    if head.lower() in _HELP_WORDS:
        return _parse_help(rest)
    tool = _lookup_tool(head)
    builder = _RequestBuilder(tool)
    for word in rest:
        builder.add(word)
    return builder.build(requester if requester is not None else Requester())


def _split_words(text: str) -> list[str]:
    """Normalise Slack's formatting away and split on any whitespace; no shell rules apply."""
    if not isinstance(text, str):
        raise GrammarError("the command must be text, e.g. threaddump pod=cowweb.")
    if len(text) > MAX_COMMAND_CHARS:
        raise GrammarError(
            f"the command is {len(text)} characters long; the limit is {MAX_COMMAND_CHARS}."
        )
    # NFKC turns full-width input (Japanese IMEs: ｐｏｄ＝ｃｏｗｗｅｂ) into ASCII.
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.strip()
    # A code block or quotes around the whole command; only when nothing inside is quoted,
    # so `"threaddump" "cowweb"` keeps its word-level pairs.
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3].strip()
    if not _WRAPPERS.intersection(text[1:-1]):
        text = _unwrap(text).strip()
    words = [_unwrap(w) for w in text.split()]
    words = [w for w in words if w]
    if words and words[0].lower() == "/jdebug":
        words = words[1:]
    return _join_comma_lists(words)


def _unwrap(word: str) -> str:
    """Drop one pair of quotes or backticks wrapping the whole of `word`."""
    if len(word) >= 2 and word[0] in _WRAPPERS and word[-1] in _WRAPPERS:
        return word[1:-1]
    return word


def _join_comma_lists(words: list[str]) -> list[str]:
    """Glue `selector=app=web, tier=front` back into one word; commas never end a word."""
    joined: list[str] = []
    for word in words:
        if len(joined) > 1 and (joined[-1].endswith(",") or word.startswith(",")):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


def _parse_help(rest: list[str]) -> HelpRequest:
    if not rest:
        return HelpRequest()
    if len(rest) > 1:
        raise GrammarError(
            f'unexpected "{_show(rest[1])}" after "help {_show(rest[0])}"; '
            "ask for one tool, e.g. help threaddump."
        )
    if rest[0].lower() in _HELP_WORDS:
        return HelpRequest()
    return HelpRequest(_lookup_tool(rest[0]).name)


def _lookup_tool(word: str) -> Tool:
    tool = find_tool(word)
    if tool is not None:
        return tool
    if "=" in word:
        raise GrammarError(
            f'"{_show(word)}" comes before the tool name; start with a tool, '
            "e.g. threaddump pod=cowweb (see /jdebug help)."
        )
    close = difflib.get_close_matches(word.lower(), tool_names(), n=1)
    if close:
        raise GrammarError(
            f'unknown tool "{_show(word)}"; did you mean "{close[0]}"? Try /jdebug help.'
        )
    raise GrammarError(f'unknown tool "{_show(word)}"; try /jdebug help to list the tools.')


class _RequestBuilder:
    """Collects one command's words; every check fails on the word that broke it."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        # field -> the word that set it, to name both words when something is given twice.
        self.given: dict[str, str] = {}
        self.pod: str | None = None
        self.namespace: str | None = None
        self.container: str | None = None
        self.pid: int | None = None
        self.deploy: str | None = None
        self.selector: tuple[tuple[str, str], ...] = ()
        self.count = Options.count
        self.interval_s = Options.interval_s
        self.top = Options.top
        self.all = False

    def add(self, word: str) -> None:
        if word.lower() == _ALL_WORD:
            self._require_option("all", word)
            self._claim("all", word)
            self.all = True
        elif word[0] in "-–—":
            raise GrammarError(_flag_message(word))
        elif "=" in word:
            key, _, value = word.partition("=")
            self._add_key_value(key, _unwrap(value), word)
        else:
            self._add_positional(word)

    def _add_positional(self, word: str) -> None:
        if "pod" in self.given or "deploy" in self.given or "selector" in self.given:
            first = self.given.get("pod") or self.given.get("deploy") or self.given["selector"]
            raise GrammarError(
                f'unexpected "{_show(word)}" after the target "{_show(first)}"; '
                "give one target and write options as key=value, e.g. ns=prod."
            )
        if "/" not in word:
            self._set_pod(word, word)
            return
        prefix, _, name = word.partition("/")
        kind = _KUBECTL_KINDS.get(prefix.lower())
        if kind == "deploy":
            self._set_deploy(name, word)
        elif kind == "pod":
            self._set_pod(name, word)
        else:
            self._set_pod(word, word)

    def _add_key_value(self, key: str, value: str, word: str) -> None:
        field = _KEYS.get(key.lower())
        if field is None:
            raise GrammarError(_unknown_key_message(key, word))
        if field in _OPTION_FIELDS:
            self._require_option(field, word)
        if not value:
            raise GrammarError(f'"{_show(word)}" needs a value, e.g. {_example(field)}.')
        if field == "pod":
            self._set_pod(value, word)
        elif field == "deploy":
            self._set_deploy(value, word)
        elif field == "selector":
            self._claim_target("selector", word)
            self.selector = _parse_selector(value, word)
        elif field == "namespace":
            self._set_namespace(value, word)
        elif field == "container":
            self._claim("container", word)
            self.container = _valid_label("container name", value, "container=app")
        elif field == "pid":
            self._claim("pid", word)
            self.pid = _bounded("pid", value, PID_RANGE)
        elif field == "count":
            self._claim("count", word)
            self.count = _bounded("count", value, COUNT_RANGE)
        elif field == "interval":
            self._claim("interval", word)
            self.interval_s = _interval_seconds(value)
        else:
            self._claim("top", word)
            self.top = _bounded("top", value, TOP_RANGE)

    def _set_pod(self, value: str, word: str) -> None:
        """`value` is NAME or NAMESPACE/NAME."""
        self._claim_target("pod", word)
        namespace, slash, name = value.rpartition("/")
        if slash:
            if "/" in namespace:
                raise GrammarError(
                    f'"{_show(word)}" has more than one "/"; write NAMESPACE/POD, e.g. prod/cowweb.'
                )
            if not namespace or not name:
                raise GrammarError(
                    f'"{_show(word)}" is missing a part; write NAMESPACE/POD, e.g. prod/cowweb.'
                )
            self._set_namespace(namespace, word)
        self.pod = _valid_subdomain("pod name", name, "pod=cowweb")

    def _set_deploy(self, value: str, word: str) -> None:
        self._claim_target("deploy", word)
        self.deploy = _valid_subdomain("deployment name", value, "deploy=cowweb")

    def _set_namespace(self, value: str, word: str) -> None:
        self._claim("namespace", word)
        self.namespace = _valid_label("namespace", value, "ns=prod")

    def _claim(self, field: str, word: str) -> None:
        earlier = self.given.get(field)
        if earlier is not None:
            raise GrammarError(
                f'{field} is given twice ("{_show(earlier)}" and "{_show(word)}"); give it once.'
            )
        self.given[field] = word

    def _claim_target(self, kind: str, word: str) -> None:
        for other in _TARGET_KINDS:
            earlier = self.given.get(other)
            if other != kind and earlier is not None:
                raise GrammarError(
                    f'"{_show(earlier)}" and "{_show(word)}" are two targets; give one: '
                    "a pod, deploy=NAME or selector=key=value."
                )
        self._claim(kind, word)

    def _require_option(self, option: str, word: str) -> None:
        if option in self.tool.options:
            return
        takers = [t.name for t in CATALOG if option in t.options]
        which = _and_list(takers) if takers else "no tool"
        raise GrammarError(
            f'{self.tool.name} does not take "{_show(word)}"; {option} is for {which}.'
        )

    def build(self, requester: Requester) -> Request:
        return Request(
            tool=self.tool.name,
            target=TargetSelector(
                pod=self.pod,
                namespace=self.namespace,
                container=self.container,
                pid=self.pid,
                deploy=self.deploy,
                selector=self.selector,
            ),
            options=Options(
                count=self.count, interval_s=self.interval_s, top=self.top, all=self.all
            ),
            requester=requester,
        )


def _valid_subdomain(what: str, value: str, example: str) -> str:
    return _valid_name(what, value, example, _DNS_SUBDOMAIN, 253, "'-' and '.'")


def _valid_label(what: str, value: str, example: str) -> str:
    return _valid_name(what, value, example, _DNS_LABEL, 63, "'-'")


def _valid_name(
    what: str, value: str, example: str, pattern: re.Pattern[str], limit: int, extra: str
) -> str:
    if len(value) > limit:
        raise GrammarError(
            f'{what} "{_show(value)}" is {len(value)} characters long; the limit is {limit}.'
        )
    if pattern.fullmatch(value):
        return value
    key = example.partition("=")[0]
    if pattern.fullmatch(value.lower()):
        raise GrammarError(
            f'{what} "{_show(value)}" is not valid: Kubernetes names are lower case, '
            f"so write {key}={value.lower()}."
        )
    raise GrammarError(
        f'{what} "{_show(value)}" is not valid: use lower-case letters, digits, {extra}, '
        f"starting and ending with a letter or digit, e.g. {example}."
    )


def _parse_selector(value: str, word: str) -> tuple[tuple[str, str], ...]:
    """`app=web,tier=front` -> (("app", "web"), ("tier", "front")); only equality is supported."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        key, eq, label_value = item.partition("=")
        if not eq or not key or key.endswith("!"):
            shown = _show(item) if item else "an empty item"
            raise GrammarError(
                f'"{shown}" in "{_show(word)}" is not a key=value pair; '
                "write selector=app=cowweb,tier=web (equality only)."
            )
        if label_value.startswith("="):
            label_value = label_value[1:]  # kubectl accepts `key==value` as `key=value`
        _check_label_key(key, word)
        _check_label_value(label_value, word)
        if any(key == seen for seen, _ in pairs):
            raise GrammarError(
                f'label key "{_show(key)}" appears twice in "{_show(word)}"; give it once.'
            )
        pairs.append((key, label_value))
    return tuple(pairs)


def _check_label_key(key: str, word: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise GrammarError(
            f'label key prefix "{_show(prefix)}" in "{_show(word)}" is not a DNS subdomain; '
            "write e.g. selector=example.com/team=web."
        )
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise GrammarError(
            f'label key "{_show(key)}" in "{_show(word)}" is not valid: use at most 63 letters, '
            "digits, '-', '_' and '.', starting and ending with a letter or digit."
        )


def _check_label_value(value: str, word: str) -> None:
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        raise GrammarError(
            f'label value "{_show(value)}" in "{_show(word)}" is not valid: use at most 63 '
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit."
        )


def _bounded(key: str, value: str, bounds: range) -> int:
    form = f"{key}={bounds.start}..{bounds.stop - 1}"
    if not _DIGITS.fullmatch(value):
        raise GrammarError(f'{key} "{_show(value)}" is not a whole number; use {form}.')
    # More than 10 digits is out of every range; skip int() on absurdly long strings.
    number = int(value) if len(value) <= 10 else bounds.stop
    if number not in bounds:
        raise GrammarError(f"{key}={_show(value)} is out of range; use {form}.")
    return number


def _interval_seconds(value: str) -> int:
    form = "interval=1s..60s, e.g. interval=5s or interval=1m"
    match = _INTERVAL.fullmatch(value)
    if not match:
        raise GrammarError(f'interval "{_show(value)}" is not valid; use {form}.')
    digits, unit = match.groups()
    # More than 4 digits is out of range whatever the unit; skip int() on long strings.
    seconds = int(digits) * (60 if unit.lower() == "m" else 1) if len(digits) <= 4 else 0
    if seconds not in INTERVAL_RANGE_S:
        raise GrammarError(f"interval={_show(value)} is out of range; use {form}.")
    return seconds


def _unknown_key_message(key: str, word: str) -> str:
    if key.lower() == _ALL_WORD:
        return f'"{_show(word)}" takes no value; write just all.'
    if not key:
        return f'"{_show(word)}" has no key before "="; write key=value, e.g. ns=prod.'
    close = difflib.get_close_matches(key.lower(), [*_KEYS, _ALL_WORD], n=1)
    hint = f'did you mean "{close[0]}="' if close else "see /jdebug help for the options"
    return f'unknown option "{_show(word)}"; {hint}.'


def _flag_message(word: str) -> str:
    bare = word.lstrip("-–—")
    if "=" in bare and bare.partition("=")[0].lower() in _KEYS:
        hint = _show(bare)  # `--ns=prod`: the same word without dashes is right
    else:
        hint = _FLAG_HINTS.get(word.partition("=")[0].lower(), "key=value")
    return f'unexpected "{_show(word)}"; jdebug takes key=value words, not flags: write {hint}.'


def _example(field: str) -> str:
    return {
        "pod": "pod=cowweb",
        "namespace": "ns=prod",
        "container": "container=app",
        "pid": "pid=1",
        "deploy": "deploy=cowweb",
        "selector": "selector=app=cowweb",
        "count": "count=3",
        "interval": "interval=5s",
        "top": "top=20",
    }[field]


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _show(word: str, limit: int = 40) -> str:
    """`word` safe to quote in a one-line message: short, with unprintable characters escaped."""
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in word[:limit])
    return shown + "…" if len(word) > limit else shown
