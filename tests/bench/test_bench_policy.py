"""Benchmark: one policy decision against a 200-rule policy, against the same decision with
that policy's deciding rule alone, in the same run.

The decision sits in front of every Slack command and every button click (and every forged
one), so its cost must not grow with the policy: the goals are in CASES.
`extra_info["us_per_decision"]` records the median.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.access.policy import Policy
from bot.model.request import Request, Requester, TargetSelector
from tests.bench.goals import assert_goal, median_seconds

pytestmark = pytest.mark.bench

RULES = 200


def _policy_text(rules: int, everyone: bool, only_last: bool = False) -> str:
    """`rules` team rules; with `everyone`, every rule names `*`, the index's worst case;
    `only_last` keeps just the last of them (the baseline: a one-rule policy)."""
    lines = ['contact: "#platform-oncall"', "rules:"]
    for n in range(rules - 1 if only_last else 0, rules):
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
# name: (every rule names "*", request, groups, allowed, goal). The goal is a ratio to the
# same decision against a one-rule policy (that rule alone), measured in the same run. Rules
# that name their subjects are indexed, so a decision looks at a handful of them whatever
# the policy's size (one per group the requester is in, at most five here): ≤ 4×. When all
# 200 name everyone (no real policy looks like that) every rule's globs must be tried:
# linear, ≤ 1.5 × 200.
INDEXED, LINEAR = 4.0, 1.5 * RULES
CASES = {
    "allowed-by-last-rule-via-group": (False, _request(f"team{LAST}-api"), GROUPS, True, INDEXED),
    "denied-namespace-excluded": (False, _request(f"team{LAST}-vault"), GROUPS, False, INDEXED),
    "denied-no-rule-names-them": (False, _request("team1-api", "U0NOBODY00"), (), False, INDEXED),
    "all-200-rules-name-everyone": (True, _request(f"team{LAST}-api"), (), True, LINEAR),
    "all-200-rules-name-everyone-denied": (True, _request("shop"), (), False, LINEAR),
}


def seconds_per_call(call: Callable[[], object], calls: int = 2000) -> float:
    """The median over 5 batches of the time per call."""
    return median_seconds(lambda: [call() for _ in range(calls)]) / calls


@pytest.mark.parametrize("case", list(CASES))
def test_bench_policy_decision_with_200_rules(benchmark, case):
    everyone, request, groups, allowed, goal_ratio = CASES[case]
    policy = Policy.parse(_policy_text(RULES, everyone))
    one_rule = Policy.parse(_policy_text(RULES, everyone, only_last=True))
    assert len(policy.rules) == RULES and len(one_rule.rules) == 1

    benchmark.group = "policy"
    baseline_s = seconds_per_call(lambda: one_rule.decide(request, groups))
    decision = benchmark(policy.decide, request, groups)

    assert decision.allowed is allowed, decision.reason
    assert one_rule.decide(request, groups).allowed is allowed
    if allowed:
        assert decision.rule == f"team-{LAST}"
    # Both sides timed the same way (batches of calls from one lambda), so the ratio compares
    # decisions, not harnesses; pytest-benchmark's own median is recorded beside it.
    full_s = seconds_per_call(lambda: policy.decide(request, groups))
    benchmark.extra_info.update(
        rules=RULES,
        us_per_decision=round(benchmark.stats.stats.median * 1e6, 2),
        us_per_decision_batched=round(full_s * 1e6, 2),
        us_per_decision_one_rule=round(baseline_s * 1e6, 2),
    )
    assert_goal(benchmark, "ratio_to_one_rule_policy", full_s / baseline_s, goal_ratio)
