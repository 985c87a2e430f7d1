"""Benchmark: one policy decision against a 200-rule policy, in microseconds per request.

The goal is microseconds, not milliseconds: the decision sits in front of every Slack
command and every button click (and every forged one). `extra_info["us_per_decision"]`
records the median for `make bench` to compare runs.
"""

from __future__ import annotations

import pytest

from bot.access.policy import Policy
from bot.model.request import Request, Requester, TargetSelector

pytestmark = pytest.mark.bench

RULES = 200


def _policy_text(rules: int, everyone: bool) -> str:
    """`rules` team rules; with `everyone`, every rule names `*`, the index's worst case."""
    lines = ['contact: "#platform-oncall"', "rules:"]
    for n in range(rules):
        named = f"users: [U0T{n:04d}A, U0T{n:04d}B], groups: [S0G{n:04d}], channels: [C0C{n:04d}]"
        subjects = '"*"' if everyone else "{" + named + "}"
        tools = "[read-only, '!histo']" if n % 2 else "[jps, flags, threaddump, td]"
        lines += [
            f"  - name: team-{n}",
            f"    subjects: {subjects}",
            '    clusters: ["prod-*", "!prod-eu"]',
            f'    namespaces: ["team{n}-*", "team{n}", "!team{n}-vault", "!kube-*"]',
            f"    tools: {tools}",
        ]
    return "\n".join(lines) + "\n"


def _request(namespace: str, user: str = "U0ALICE001") -> Request:
    return Request(
        tool="threaddump",
        target=TargetSelector(pod="web-1", namespace=namespace, cluster="prod-us"),
        requester=Requester(kind="slack", user=user, channel="C0RANDOM01"),
    )


LAST = RULES - 1
# The requester belongs to five user groups; only the last rule's group grants anything.
GROUPS = ("S0NOPE001", "S0NOPE002", "S0G0003", "S0NOPE003", f"S0G{LAST:04d}")
# name: (every rule names "*", request, groups, allowed, goal in µs). Rules that name
# their subjects are indexed, so a decision looks at a handful of them; when all 200 name
# everyone (no real policy looks like that) every rule's globs must be tried.
CASES = {
    "allowed-by-last-rule-via-group": (False, _request(f"team{LAST}-api"), GROUPS, True, 25),
    "denied-namespace-excluded": (False, _request(f"team{LAST}-vault"), GROUPS, False, 25),
    "denied-no-rule-names-them": (False, _request("team1-api", "U0NOBODY00"), (), False, 25),
    "all-200-rules-name-everyone": (True, _request(f"team{LAST}-api"), (), True, 250),
    "all-200-rules-name-everyone-denied": (True, _request("shop"), (), False, 250),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bench_policy_decision_with_200_rules(benchmark, case):
    everyone, request, groups, allowed, goal_us = CASES[case]
    policy = Policy.parse(_policy_text(RULES, everyone))
    assert len(policy.rules) == RULES

    benchmark.group = "policy"
    decision = benchmark(policy.decide, request, groups)

    assert decision.allowed is allowed, decision.reason
    if allowed:
        assert decision.rule == f"team-{LAST}"
    median_us = benchmark.stats.stats.median * 1e6
    benchmark.extra_info["rules"] = RULES
    benchmark.extra_info["us_per_decision"] = round(median_us, 2)
    assert median_us <= goal_us, f"{median_us:.1f} µs per decision (goal {goal_us} µs)"
