"""Who may run a request, as one question every frontend's requests go through.

`PolicyGate` asks the policy file (re-read when it changes); `AllowList` is the Slack bot's
simple mode without one (listed user or channel IDs); `OpenGate` lets everything through, for
the terminal without a policy file: that user already holds the kubeconfig jdebug would use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

from bot.access.policy import Decision, PolicyWatcher
from bot.model.request import Request

ANYONE = "*"


@dataclass(frozen=True)
class Verdict:
    """Allowed (by `rule`, when a policy rule decided), or refused with `message` for the
    requester and `reason` for the audit record."""

    allowed: bool
    rule: str | None = None
    reason: str = ""
    message: str = ""
    contact: str | None = None


class Gate(Protocol):
    @property
    def groups(self) -> frozenset[str]:
        """The user groups this gate looks at; the frontend finds which the requester is in."""
        ...

    def judge(self, request: Request) -> Verdict: ...


class OpenGate:
    groups: frozenset[str] = frozenset()

    def judge(self, request: Request) -> Verdict:
        return Verdict(True, reason="no policy file: the terminal user may run every tool")


@dataclass(frozen=True)
class AllowList:
    """Listed users, or anyone in a listed channel; `*` in either admits everyone; both empty
    admit nobody (default deny). The settings' names go into the refusal."""

    users: frozenset[str]
    channels: frozenset[str]
    users_setting: str = "JDEBUG_ALLOWED_USERS"
    channels_setting: str = "JDEBUG_ALLOWED_CHANNELS"
    groups: frozenset[str] = frozenset()

    def judge(self, request: Request) -> Verdict:
        who = request.requester
        if (
            ANYONE in self.users
            or ANYONE in self.channels
            or who.user in self.users
            or (who.channel is not None and who.channel in self.channels)
        ):
            return Verdict(True, reason="on the allow-list")
        return Verdict(
            False,
            reason="not on the allow-list",
            message=(
                f"You may not run jdebug here. Ask an admin to add your user ID ({who.user}) "
                f"to {self.users_setting}, or this channel ({who.channel}) to "
                f"{self.channels_setting}."
            ),
        )


class PolicyGate:
    """The policy file decides; a request without ns= is judged where it would run."""

    def __init__(
        self,
        watcher: PolicyWatcher,
        default_namespace: str,
        contact: str | None = None,
        default_cluster: str | None = None,
    ) -> None:
        self.watcher = watcher
        self.default_namespace = default_namespace
        self.contact = contact
        # With several clusters, a request without cluster= runs in (and is judged for)
        # the default one.
        self.default_cluster = default_cluster

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(g for rule in self.watcher.policy.rules for g in rule.groups)

    def judge(self, request: Request) -> Verdict:
        policy = self.watcher.policy
        if policy.contact is None:  # the file names no contact: the setting's, if any
            policy.contact = self.contact
        target = request.target
        if not target.namespace and not (target.pid is not None and not target.pod):
            target = dataclasses.replace(target, namespace=self.default_namespace)
        if target.cluster is None and self.default_cluster is not None:
            target = dataclasses.replace(target, cluster=self.default_cluster)
        judged = dataclasses.replace(request, target=target)
        decision: Decision = policy.decide(judged, tuple(request.requester.groups))
        if decision.allowed:
            return Verdict(True, decision.rule, decision.reason)
        return Verdict(
            False,
            reason=f"policy: {decision.reason}",
            message=policy.deny_message(judged, decision),
            contact=policy.contact,
        )
