"""The command grammar: the text after `/jdebug` becomes a `Request` or a `HelpRequest`.

This is the only door user text comes through, so it is strict: tools come from the catalog,
names must be valid Kubernetes names, numbers have bounds, and anything else raises a
`GrammarError` whose one-sentence message names the bad word and shows the right form.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.commands.names import (
    check_label_key,
    check_label_value,
    valid_dns1123_label,
    valid_dns1123_subdomain,
)
from bot.commands.words import MAX_COMMAND_CHARS as MAX_COMMAND_CHARS
from bot.commands.words import show, split_words, unwrap
from bot.jvm.catalog import CATALOG, Tool, find_tool, tool_names
from bot.jvm.options import OptionError
from bot.model.errors import GrammarError
from bot.model.request import OptionValue, Request, Requester, TargetSelector

PID_RANGE = range(1, 4_194_304 + 1)  # Linux's PID_MAX_LIMIT


@dataclass(frozen=True)
class HelpRequest:
    """The user asked for usage: all of it (`topic` None) or one tool's (its catalog name)."""

    topic: str | None = None


_DIGITS = re.compile(r"[0-9]+", re.ASCII)

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
    "cluster": "cluster",
}
_TARGET_KINDS = ("pod", "deploy", "selector")

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
    words = split_words(text)
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


def _parse_help(rest: list[str]) -> HelpRequest:
    if not rest:
        return HelpRequest()
    if len(rest) > 1:
        raise GrammarError(
            f'unexpected "{show(rest[1])}" after "help {show(rest[0])}"; '
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
            f'"{show(word)}" comes before the tool name; start with a tool, '
            "e.g. threaddump pod=cowweb (see /jdebug help)."
        )
    close = difflib.get_close_matches(word.lower(), tool_names(), n=1)
    if close:
        raise GrammarError(
            f'unknown tool "{show(word)}"; did you mean "{close[0]}"? Try /jdebug help.'
        )
    raise GrammarError(f'unknown tool "{show(word)}"; try /jdebug help to list the tools.')


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
        self.cluster: str | None = None
        self.selector: tuple[tuple[str, str], ...] = ()
        self.options: dict[str, OptionValue] = {}
        self.all = False

    def add(self, word: str) -> None:
        if word.lower() == _ALL_WORD:
            # Its meaning depends on the target, which may come later: decided in build().
            self._claim("all", word)
            self.all = True
        elif word[0] in "-–—":
            raise GrammarError(_flag_message(word))
        elif "=" in word:
            key, _, value = word.partition("=")
            self._add_key_value(key, unwrap(value), word)
        elif self.tool.option(word.lower()) is not None:
            self._add_option(word.lower(), None, word)
        else:
            self._add_positional(word)

    def _add_positional(self, word: str) -> None:
        if "pod" in self.given or "deploy" in self.given or "selector" in self.given:
            first = self.given.get("pod") or self.given.get("deploy") or self.given["selector"]
            raise GrammarError(
                f'unexpected "{show(word)}" after the target "{show(first)}"; '
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
            if any(t.option(key.lower()) for t in CATALOG):
                self._add_option(key.lower(), value, word)
                return
            raise GrammarError(_unknown_key_message(key, word))
        if not value:
            raise GrammarError(f'"{show(word)}" needs a value, e.g. {_example(field)}.')
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
            self.container = valid_dns1123_label("container name", value, "container=app")
        elif field == "cluster":
            self._claim("cluster", word)
            self.cluster = valid_dns1123_label("cluster name", value, "cluster=prod")
        else:
            self._claim("pid", word)
            self.pid = _bounded_pid(value)

    def _add_option(self, key: str, value: str | None, word: str) -> None:
        """A tool option: `key=value`, or a bare flag word (`value` None)."""
        spec = self.tool.option(key)
        if spec is None:
            takers = [t.name for t in CATALOG if t.option(key) is not None]
            raise GrammarError(
                f'{self.tool.name} does not take "{show(word)}"; {key} is for {_and_list(takers)}.'
            )
        self._claim(key, word)
        if spec.flag:
            if value is not None:
                raise GrammarError(f'"{show(word)}" takes no value; write just {key}.')
            self.options[key] = True
            return
        if not value:
            raise GrammarError(f'"{show(word)}" needs a value; use {spec.form}.')
        try:
            self.options[key] = spec.parse(value)
        except OptionError as error:
            raise GrammarError(_shown(str(error), value)) from None

    def _set_pod(self, value: str, word: str) -> None:
        """`value` is NAME or NAMESPACE/NAME."""
        self._claim_target("pod", word)
        namespace, slash, name = value.rpartition("/")
        if slash:
            if "/" in namespace:
                raise GrammarError(
                    f'"{show(word)}" has more than one "/"; write NAMESPACE/POD, e.g. prod/cowweb.'
                )
            if not namespace or not name:
                raise GrammarError(
                    f'"{show(word)}" is missing a part; write NAMESPACE/POD, e.g. prod/cowweb.'
                )
            self._set_namespace(namespace, word)
        self.pod = valid_dns1123_subdomain("pod name", name, "pod=cowweb")

    def _set_deploy(self, value: str, word: str) -> None:
        self._claim_target("deploy", word)
        self.deploy = valid_dns1123_subdomain("deployment name", value, "deploy=cowweb")

    def _set_namespace(self, value: str, word: str) -> None:
        self._claim("namespace", word)
        self.namespace = valid_dns1123_label("namespace", value, "ns=prod")

    def _claim(self, field: str, word: str) -> None:
        earlier = self.given.get(field)
        if earlier is not None:
            raise GrammarError(
                f'{field} is given twice ("{show(earlier)}" and "{show(word)}"); give it once.'
            )
        self.given[field] = word

    def _claim_target(self, kind: str, word: str) -> None:
        for other in _TARGET_KINDS:
            earlier = self.given.get(other)
            if other != kind and earlier is not None:
                raise GrammarError(
                    f'"{show(earlier)}" and "{show(word)}" are two targets; give one: '
                    "a pod, deploy=NAME or selector=key=value."
                )
        self._claim(kind, word)

    def build(self, requester: Requester) -> Request:
        # `all` with deploy=/selector= means every matching pod; otherwise the tool's -all.
        every_pod = self.all and bool(self.deploy or self.selector)
        if self.all and not every_pod:
            del self.given["all"]
            self._add_option("all", None, _ALL_WORD)
        return Request(
            tool=self.tool.name,
            target=TargetSelector(
                pod=self.pod,
                namespace=self.namespace,
                container=self.container,
                pid=self.pid,
                deploy=self.deploy,
                selector=self.selector,
                cluster=self.cluster,
            ),
            options=self.tool.defaults(**self.options),
            requester=requester,
            every_pod=every_pod,
        )


def _parse_selector(value: str, word: str) -> tuple[tuple[str, str], ...]:
    """`app=web,tier=front` -> (("app", "web"), ("tier", "front")); only equality is supported."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        key, eq, label_value = item.partition("=")
        if not eq or not key or key.endswith("!"):
            shown = show(item) if item else "an empty item"
            raise GrammarError(
                f'"{shown}" in "{show(word)}" is not a key=value pair; '
                "write selector=app=cowweb,tier=web (equality only)."
            )
        if label_value.startswith("="):
            label_value = label_value[1:]  # kubectl accepts `key==value` as `key=value`
        check_label_key(key, word)
        check_label_value(label_value, word)
        if any(key == seen for seen, _ in pairs):
            raise GrammarError(
                f'label key "{show(key)}" appears twice in "{show(word)}"; give it once.'
            )
        pairs.append((key, label_value))
    return tuple(pairs)


def _bounded_pid(value: str) -> int:
    form = f"pid={PID_RANGE.start}..{PID_RANGE.stop - 1}"
    if not _DIGITS.fullmatch(value):
        raise GrammarError(f'pid "{show(value)}" is not a whole number; use {form}.')
    # More than 10 digits is out of range; skip int() on absurdly long strings.
    number = int(value) if len(value) <= 10 else PID_RANGE.stop
    if number not in PID_RANGE:
        raise GrammarError(f"pid={show(value)} is out of range; use {form}.")
    return number


def _shown(message: str, value: str) -> str:
    """An option's message with the raw value replaced by its printable form."""
    return message.replace(value, show(value)) if value != show(value) else message


def _unknown_key_message(key: str, word: str) -> str:
    if key.lower() == _ALL_WORD:
        return f'"{show(word)}" takes no value; write just all.'
    if not key:
        return f'"{show(word)}" has no key before "="; write key=value, e.g. ns=prod.'
    options = [spec.key for tool in CATALOG for spec in tool.options]
    close = difflib.get_close_matches(key.lower(), [*_KEYS, *options, _ALL_WORD], n=1)
    hint = f'did you mean "{close[0]}="' if close else "see /jdebug help for the options"
    return f'unknown option "{show(word)}"; {hint}.'


def _flag_message(word: str) -> str:
    bare = word.lstrip("-–—")
    keys = {*_KEYS, *(spec.key for tool in CATALOG for spec in tool.options)}
    if "=" in bare and bare.partition("=")[0].lower() in keys:
        hint = show(bare)  # `--ns=prod`: the same word without dashes is right
    else:
        hint = _FLAG_HINTS.get(word.partition("=")[0].lower(), "key=value")
    return f'unexpected "{show(word)}"; jdebug takes key=value words, not flags: write {hint}.'


def _example(field: str) -> str:
    return {
        "pod": "pod=cowweb",
        "namespace": "ns=prod",
        "container": "container=app",
        "pid": "pid=1",
        "deploy": "deploy=cowweb",
        "selector": "selector=app=cowweb",
        "cluster": "cluster=prod",
    }[field]


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
