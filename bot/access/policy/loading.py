"""Reading a policy file: YAML text → validated `Rule`s, every problem reported with its line.

We walk `yaml.compose`'s node tree rather than `safe_load`'s dicts because nodes keep their
line numbers and plain scalars stay text (a namespace called `no` stays `no`, not False).
All problems are collected, so an admin fixes the file in one round.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.access.policy.rules import ANYWHERE, EVERYONE, EXCLUDE, GlobSet, Rule
from bot.jvm.catalog import Tool
from bot.model.errors import JdebugError

BULK_WORDS = ("read-only", "all", EVERYONE)
_NULL_TAG = "tag:yaml.org,2002:null"
_TOP_KEYS = ("contact", "rules")
_RULE_KEYS = ("name", "description", "subjects", "clusters", "namespaces", "tools")
_REQUIRED_RULE_KEYS = ("subjects", "namespaces", "tools")
# Slack's ID shapes: a name such as `@alice` or `#oncall` here would silently match nobody.
_SUBJECT_IDS = {
    "users": (re.compile(r"[UW][A-Z0-9]{2,}"), "a Slack member ID like U012AB3CD"),
    "groups": (re.compile(r"S[A-Z0-9]{2,}"), "a Slack user-group ID like S012AB3CD"),
    "channels": (re.compile(r"[CGD][A-Z0-9]{2,}"), "a Slack channel ID like C012AB3CD"),
    # `jdebug run` in a terminal is judged by the OS user's name (useradd's NAME_REGEX).
    "terminal_users": (re.compile(r"[a-z_][a-z0-9_-]*\$?"), "an OS user name like alice"),
}
_GLOB_TEXT = re.compile(r"[^\s]+")
# `*` or `!` opening a plain scalar: YAML reads an alias or a tag, a common cause of errors.
_UNQUOTED_STAR_OR_BANG = re.compile(r"(?:^|[\s\[,{])[*!]")


class PolicyError(JdebugError):
    """The policy file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class PolicyFile:
    """What a valid policy file says."""

    contact: str | None
    rules: tuple[Rule, ...]


def read_policy_file(path: Path, catalog: Sequence[Tool]) -> PolicyFile:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PolicyError(f"policy file {path} cannot be read: {error.strerror}") from None
    return parse_policy(data, str(path), catalog)


def parse_policy(data: str | bytes, source: str, catalog: Sequence[Tool]) -> PolicyFile:
    """Validate `data`; raise `PolicyError` listing every problem with its line."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PolicyError(
                f"policy file {source} is not UTF-8 text (byte {error.start})"
            ) from None
    try:
        root = yaml.compose(data, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise PolicyError(_syntax_message(source, data, error)) from None
    except yaml.YAMLError as error:
        raise PolicyError(f"policy file {source} is not valid YAML: {error}") from None
    if root is None:
        raise PolicyError(f"policy file {source} is empty; it needs a `rules:` list")
    reader = _Reader(catalog)
    policy = reader.policy(root)
    if reader.problems or policy is None:
        raise PolicyError(_problems_message(source, reader.problems))
    return policy


def _syntax_message(source: str, text: str, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f", line {mark.line + 1}" if mark is not None else ""
    what = error.problem or error.context or "syntax error"
    # YAML often notices a stray alias or tag a line later, or where the list began.
    lines = text.splitlines()
    suspects = {m.line for m in (error.context_mark, error.problem_mark) if m is not None}
    suspects |= {n - 1 for n in suspects}
    hint = ""
    if any(_UNQUOTED_STAR_OR_BANG.search(lines[n]) for n in suspects if 0 <= n < len(lines)):
        hint = ' (quote patterns that start with * or !, e.g. "*" and "!kube-*")'
    return f"policy file {source}{where}: not valid YAML: {what}{hint}"


def _problems_message(source: str, problems: list[tuple[int, str]]) -> str:
    ordered = sorted(problems)
    if len(ordered) == 1:
        line, text = ordered[0]
        return f"policy file {source}, line {line}: {text}"
    listed = "; ".join(f"line {line}: {text}" for line, text in ordered)
    return f"policy file {source} has {len(ordered)} problems — {listed}"


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"`{node.value}`" if node.value else "empty"


def _closest(word: str, choices: Collection[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return close[0] if close else None


def _suggestion(word: str, choices: Collection[str]) -> str:
    close = _closest(word, choices)
    return f" (did you mean `{close}`?)" if close else ""


def _keys(node: Node) -> list[str]:
    if not isinstance(node, MappingNode):
        return []
    return [key.value for key, _ in node.value if isinstance(key, ScalarNode)]


def _entry(node: Node, key: str) -> Node | None:
    """The value under `key` in a mapping node, before the mapping is validated."""
    if isinstance(node, MappingNode):
        pairs: list[tuple[Node, Node]] = node.value
        for name, value in pairs:
            if isinstance(name, ScalarNode) and name.value == key:
                return value
    return None


class _Reader:
    """Walks the node tree, turning valid parts into values and the rest into problems."""

    def __init__(self, catalog: Sequence[Tool]) -> None:
        self.tools = {
            alias.lower(): tool for tool in catalog for alias in (tool.name, *tool.aliases)
        }
        self.read_only = frozenset(
            tool.name for tool in catalog if not (tool.mutating or tool.heavy)
        )
        self.problems: list[tuple[int, str]] = []

    def problem(self, node: Node, text: str) -> None:
        self.problems.append((node.start_mark.line + 1, text))

    def policy(self, root: Node) -> PolicyFile | None:
        keys = self.mapping(root, "the policy file", _TOP_KEYS)
        if keys is None:
            return None
        contact = self.text(keys["contact"], "`contact`") if "contact" in keys else None
        if "rules" not in keys:
            self.problem(root, "the policy file has no `rules:` list")
            return None
        rules_node = keys["rules"]
        if not isinstance(rules_node, SequenceNode):
            self.problem(rules_node, f"`rules` must be a list of rules, not {_kind(rules_node)}")
            return None
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for index, node in enumerate(rules_node.value):
            rule = self.rule(node, index)
            if rule is None:
                continue
            if rule.name in seen:
                where = _entry(node, "name") or node
                self.problem(
                    where, f"rule name `{rule.name}` is already used on line {seen[rule.name]}"
                )
            seen[rule.name] = rule.line
            rules.append(rule)
        return PolicyFile(contact=contact, rules=tuple(rules))

    def rule(self, node: Node, index: int) -> Rule | None:
        name_node = _entry(node, "name")
        name = self.text(name_node, f"the name of rule {index + 1}") if name_node else None
        what = f"rule `{name}`" if name else f"rule {index + 1}"
        name = name or f"rule {index + 1}"
        keys = self.mapping(node, what, _RULE_KEYS)
        if keys is None:
            return None
        # A misspelt key was already reported as unknown, with the right spelling.
        typos = {_closest(key, _RULE_KEYS) for key in _keys(node) if key not in _RULE_KEYS}
        missing = [key for key in _REQUIRED_RULE_KEYS if key not in keys and key not in typos]
        for key in missing:
            self.problem(node, f"{what} has no `{key}:`")
        if "description" in keys:
            self.text(keys["description"], f"the description of {what}")
        subjects = self.subjects(keys["subjects"], what) if "subjects" in keys else None
        clusters = self.globs(keys["clusters"], f"{what} clusters") if "clusters" in keys else None
        namespaces = (
            self.globs(keys["namespaces"], f"{what} namespaces") if "namespaces" in keys else None
        )
        tools = self.tool_grant(keys["tools"], what) if "tools" in keys else None
        # Any problem fails the whole file; a rule is still built when it can be, so a
        # duplicate name further down is reported in the same round.
        if subjects is None or namespaces is None or tools is None:
            return None
        users, groups, channels, terminal_users = subjects
        granted, bulk = tools
        return Rule(
            name=name,
            users=users,
            groups=groups,
            channels=channels,
            terminal_users=terminal_users,
            clusters=clusters or ANYWHERE,
            namespaces=namespaces,
            tools=granted,
            line=node.start_mark.line + 1,
            bulk=bulk,
        )

    def subjects(
        self, node: Node, what: str
    ) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]] | None:
        if isinstance(node, ScalarNode) and node.value == EVERYONE:
            return frozenset({EVERYONE}), frozenset(), frozenset(), frozenset()
        keys = self.mapping(node, f"{what} subjects", tuple(_SUBJECT_IDS), scalar_hint='"*"')
        if keys is None:
            return None
        found: dict[str, frozenset[str]] = {}
        for kind, (shape, example) in _SUBJECT_IDS.items():
            entries = self.strings(keys[kind], f"{what} {kind}") if kind in keys else []
            if entries is None:
                return None
            ids = set()
            for item, text in entries:
                if text != EVERYONE and not shape.fullmatch(text):
                    self.problem(item, f'`{text}` in {what} {kind} is not {example} or "*"')
                ids.add(text)
            found[kind] = frozenset(ids)
        if not any(found.values()):
            if len(keys) == len(_keys(node)):  # else a misspelt key was reported already
                self.problem(
                    node,
                    f"{what} subjects name nobody; list users, groups, channels or terminal_users",
                )
            return None
        return found["users"], found["groups"], found["channels"], found["terminal_users"]

    def globs(self, node: Node, what: str) -> GlobSet | None:
        entries = self.strings(node, what)
        if entries is None:
            return None
        patterns = []
        for item, text in entries:
            body = text.removeprefix(EXCLUDE)
            if not body or not _GLOB_TEXT.fullmatch(body):
                self.problem(item, f"`{text}` in {what} is not a name or glob pattern")
                continue
            patterns.append(text)
        return GlobSet.of(patterns) if patterns else None

    def tool_grant(self, node: Node, what: str) -> tuple[frozenset[str], bool] | None:
        entries = self.strings(node, f"{what} tools")
        if entries is None:
            return None
        granted: set[str] = set()
        excluded: set[str] = set()
        bulk = False
        problems_before = len(self.problems)
        for item, text in entries:
            word = text.removeprefix(EXCLUDE).lower()
            excluding = text.startswith(EXCLUDE)
            if word in BULK_WORDS:
                if excluding:
                    self.problem(item, f"`{text}` in {what} tools: only tool names can be excluded")
                bulk = True
                granted |= self.read_only
                continue
            tool = self.tools.get(word)
            if tool is None:
                known = ", ".join((*sorted({t.name for t in self.tools.values()}), *BULK_WORDS[:2]))
                self.problem(
                    item,
                    f"unknown tool `{word}` in {what} tools"
                    f"{_suggestion(word, [*self.tools, *BULK_WORDS[:2]])}; known: {known}",
                )
                continue
            (excluded if excluding else granted).add(tool.name)
        if excluded and not granted and not bulk:
            # Only excludes reads as "everything but": the same as for namespaces.
            granted = set(self.read_only)
            bulk = True
        result = frozenset(granted - excluded)
        if not result and len(self.problems) == problems_before:
            self.problem(node, f"{what} grants no tools")
        return result, bulk

    def mapping(
        self, node: Node, what: str, allowed: Sequence[str], scalar_hint: str | None = None
    ) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            alternatives = f"{scalar_hint} or " if scalar_hint else ""
            self.problem(
                node,
                f"{what} must be {alternatives}a mapping with keys {', '.join(allowed)}, "
                f"not {_kind(node)}",
            )
            return None
        found: dict[str, Node] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.problem(key, f"{what} has a key that is not a word")
            elif key.value not in allowed:
                self.problem(
                    key,
                    f"unknown key `{key.value}` in {what}{_suggestion(key.value, allowed)}; "
                    f"expected {', '.join(allowed)}",
                )
            elif key.value in found:
                self.problem(key, f"`{key.value}` appears twice in {what}")
            else:
                found[key.value] = value
        return found

    def strings(self, node: Node, what: str) -> list[tuple[Node, str]] | None:
        """A list of text entries; one bare entry is accepted as a list of one."""
        if isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a list, not a mapping")
            return None
        items = node.value if isinstance(node, SequenceNode) else [node]
        entries = []
        for item in items:
            text = self.text(item, f"an entry of {what}")
            if text is not None:
                entries.append((item, text))
        if not items:
            self.problem(node, f"{what} is an empty list")
        return entries if len(entries) == len(items) and entries else None

    def text(self, node: Node, what: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problem(node, f"{what} must be text, not {_kind(node)}")
            return None
        if node.tag.startswith(EXCLUDE):
            # `- !kube-*` unquoted is a YAML tag with an empty value, not an exclude.
            self.problem(node, f'`{node.tag}` was read as a YAML tag; quote it: "{node.tag}"')
            return None
        if node.tag == _NULL_TAG or not node.value.strip():
            self.problem(node, f"{what} is empty")
            return None
        return str(node.value).strip()
