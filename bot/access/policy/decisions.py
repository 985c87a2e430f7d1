"""`Policy`: whether a requester may run a tool on a target, and the sentence for a denial.

Rules are indexed by tool and by subject when the policy is built, so `decide` looks only
at the few rules that name this tool for this user, their groups or their channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.access.policy.loading import parse_policy, read_policy_file
from bot.access.policy.rules import Rule
from bot.jvm.catalog import CATALOG, Tool
from bot.model.request import Request, Requester

TERMINAL = "terminal"

TargetField = Literal["namespace", "cluster"]
_NO_RULES: tuple[int, ...] = ()


@dataclass(frozen=True)
class Decision:
    """The verdict, the rule that allowed it (None when denied), and why, for the audit log.

    `needs` lists target fields the request left unset although a rule would allow it in
    some (not every) namespace or cluster: naming them might turn the denial around.
    """

    allowed: bool
    rule: str | None
    reason: str
    needs: tuple[TargetField, ...] = ()


@dataclass(frozen=True)
class _SubjectIndex:
    """For one tool: rule positions by user, group and channel, plus those naming `*`."""

    users: Mapping[str, tuple[int, ...]]
    groups: Mapping[str, tuple[int, ...]]
    channels: Mapping[str, tuple[int, ...]]
    terminal_users: Mapping[str, tuple[int, ...]]
    anyone: tuple[int, ...]


def _index(rules: Sequence[Rule], tool: str | None) -> _SubjectIndex:
    """Rules granting `tool` (any tool for None), by the subjects they name."""
    users: dict[str, list[int]] = {}
    groups: dict[str, list[int]] = {}
    channels: dict[str, list[int]] = {}
    terminal_users: dict[str, list[int]] = {}
    anyone: list[int] = []
    for position, rule in enumerate(rules):
        if tool is not None and tool not in rule.tools:
            continue
        if rule.anyone:
            anyone.append(position)
            continue
        for table, ids in (
            (users, rule.users),
            (groups, rule.groups),
            (channels, rule.channels),
            (terminal_users, rule.terminal_users),
        ):
            for subject in ids:
                table.setdefault(subject, []).append(position)

    def frozen(table: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
        return {key: tuple(value) for key, value in table.items()}

    return _SubjectIndex(
        frozen(users), frozen(groups), frozen(channels), frozen(terminal_users), tuple(anyone)
    )


def _names(rules: Sequence[Rule]) -> str:
    shown = ", ".join(f"`{rule.name}`" for rule in rules[:3])
    more = len(rules) - 3
    return shown + (f" and {more} more" if more > 0 else "")


class Policy:
    """Default deny: a Slack request runs only if some rule covers who, where and what.

    A Slack requester matches rules by user, group or channel ID; a terminal requester
    (`jdebug run` with JDEBUG_POLICY_FILE set) by OS user name in `terminal_users`.
    """

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        *,
        contact: str | None = None,
        source: str = "<policy>",
        catalog: Sequence[Tool] = CATALOG,
        configured: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        self.contact = contact
        self.source = source
        self.configured = configured  # False: no policy file, so Slack users get nothing
        self.catalog = tuple(catalog)
        self._tools = {alias.lower(): t for t in self.catalog for alias in (t.name, *t.aliases)}
        self._index = {tool.name: _index(self.rules, tool.name) for tool in self.catalog}
        self._subjects = _index(self.rules, None)
        same: dict[str, re.Pattern[str]] = {}  # one object per distinct glob list
        self._patterns = tuple(
            (
                same.setdefault(rule.clusters.pattern.pattern, rule.clusters.pattern),
                same.setdefault(rule.namespaces.pattern.pattern, rule.namespaces.pattern),
            )
            for rule in self.rules
        )
        self._allowed = tuple(
            Decision(True, rule.name, f"allowed by rule `{rule.name}` (line {rule.line})")
            for rule in self.rules
        )

    @classmethod
    def load(cls, path: str | Path, *, catalog: Sequence[Tool] = CATALOG) -> Policy:
        """Read and validate a policy file; raises `PolicyError` naming the file and line."""
        parsed = read_policy_file(Path(path), catalog)
        return cls(parsed.rules, contact=parsed.contact, source=str(path), catalog=catalog)

    @classmethod
    def parse(
        cls, data: str | bytes, *, source: str = "<policy>", catalog: Sequence[Tool] = CATALOG
    ) -> Policy:
        parsed = parse_policy(data, source, catalog)
        return cls(parsed.rules, contact=parsed.contact, source=source, catalog=catalog)

    @classmethod
    def empty(cls, contact: str | None = None) -> Policy:
        """No policy file configured: only the local terminal user may run anything."""
        return cls((), contact=contact, source="<no policy file>", configured=False)

    @property
    def uses_groups(self) -> bool:
        """Whether any rule names a user group, i.e. whether a caller must look groups up."""
        return any(rule.groups for rule in self.rules)

    def decide(self, request: Request, groups: Sequence[str] = ()) -> Decision:
        """Decide on a resolved request (namespace and cluster filled in where known).

        `groups` are the Slack user-group IDs the requester belongs to.
        """
        who = request.requester
        if not self.configured:
            return Decision(False, None, "no policy file is configured, so Slack users may not")
        if isinstance(groups, str):  # a lone ID is a Sequence[str] too, of its letters
            groups = (groups,)
        tool = self._tools.get(request.tool.lower())
        if tool is None:
            return Decision(False, None, f"`{request.tool}` is not a tool in the catalog")
        candidates = self._candidates(self._index[tool.name], who, groups)
        cluster, namespace = request.target.cluster, request.target.namespace
        if cluster is not None and namespace is not None:
            # The hot path: most rules share a clusters list, so its match is reused.
            patterns, last, cluster_ok = self._patterns, None, False
            for position in candidates:
                clusters, namespaces = patterns[position]
                if clusters is not last:
                    last, cluster_ok = clusters, clusters.match(cluster) is not None
                if cluster_ok and namespaces.match(namespace) is not None:
                    return self._allowed[position]
        else:
            for position in candidates:
                rule = self.rules[position]
                if rule.clusters.matches(cluster) and rule.namespaces.matches(namespace):
                    return self._allowed[position]
        return self._explain_denial(tool, request, groups, candidates)

    def _candidates(
        self, index: _SubjectIndex, who: Requester, groups: Sequence[str]
    ) -> Sequence[int]:
        if who.kind == TERMINAL:  # an OS user name: only terminal_users (or "*") name one
            found = [index.anyone, index.terminal_users.get(who.user, _NO_RULES)]
        else:
            found = [index.anyone, index.users.get(who.user, _NO_RULES)]
            if who.channel is not None:
                found.append(index.channels.get(who.channel, _NO_RULES))
            found.extend(index.groups.get(group, _NO_RULES) for group in groups)
        hits = [positions for positions in found if positions]
        if len(hits) <= 1:
            return hits[0] if hits else _NO_RULES
        # File order, so the reported rule does not depend on how the subject matched.
        return sorted(set().union(*hits))

    def _explain_denial(
        self, tool: Tool, request: Request, groups: Sequence[str], granting: Sequence[int]
    ) -> Decision:
        """Why no rule allowed it, for the audit log; `granting` are the rules that give
        this tool to this requester."""
        who, target = request.requester, request.target
        if not granting:
            mine = self._candidates(self._subjects, who, groups)
            if not mine:
                where = f" or channel {who.channel}" if who.channel else ""
                return Decision(False, None, f"no rule names user {who.user}, their groups{where}")
            if (tool.mutating or tool.heavy) and any(self.rules[p].bulk for p in mine):
                what = "changes the JVM" if tool.mutating else "costs the JVM noticeably"
                reason = (
                    f"`{tool.name}` {what}, so `read-only`, `all` and `*` do not "
                    f"grant it; no rule for this requester names it"
                )
            else:
                reason = f"no rule for this requester grants `{tool.name}`"
            return Decision(False, None, reason)
        rules = [self.rules[position] for position in granting]
        verdicts: dict[int, bool] = {}  # rules often share one clusters list

        def in_cluster(rule: Rule) -> bool:
            key = id(rule.clusters.pattern)
            if key not in verdicts:
                verdicts[key] = rule.clusters.matches(target.cluster)
            return verdicts[key]

        there = [rule for rule in rules if in_cluster(rule)]
        if not there:
            if target.cluster is None:
                reason = f"the request names no cluster and {_names(rules)} cover only some"
                return Decision(False, None, reason, needs=("cluster",))
            reason = f"cluster `{target.cluster}` is outside {_names(rules)}"
            return Decision(False, None, reason)
        namespace = target.namespace
        if namespace is None:
            reason = f"the request names no namespace and {_names(there)} cover only some"
            return Decision(False, None, reason, needs=("namespace",))
        excluding = [rule for rule in there if rule.namespaces.excludes(namespace)]
        if excluding:
            reason = f"namespace `{namespace}` is excluded by {_names(excluding)}"
        else:
            reason = f"namespace `{namespace}` is outside {_names(there)}"
        return Decision(False, None, reason)

    def deny_message(self, request: Request, decision: Decision) -> str:
        """One sentence for the requester: what they asked for, that it is not permitted,
        and who can grant it."""
        target = request.target
        what = target.describe()
        asked = f"You asked for `{request.tool}` on `{what}`"
        if target.namespace and not what.startswith(f"{target.namespace}/"):
            asked += f" in namespace `{target.namespace}`"
        if target.cluster:
            asked += f" in cluster `{target.cluster}`"
        contact = self.contact or "the jdebug administrators"
        if not self.configured:
            return (
                f"{asked}, which is not permitted: jdebug has no policy file, so only its "
                f"local terminal user may run tools; ask {contact} to set one up."
            )
        unless = ""
        if decision.needs:
            hints = {"namespace": "the namespace (add `ns=…`)", "cluster": "the cluster"}
            unless = " without naming " + " and ".join(hints[field] for field in decision.needs)
        return f"{asked}, which you are not permitted to run{unless}; ask {contact} for access."
