"""How every benchmark states its goal: a figure measured in this run, recorded in
`benchmark.extra_info` and printed, then asserted, so `make bench` fails when one is missed.

Goals are ratios against a baseline measured in the same run on the same machine (or, for
memory, an absolute figure), so a slow or busy machine moves both sides alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_seconds(call: Callable[[], object], rounds: int = 5) -> float:
    """The median wall time of `rounds` calls (after one untimed warm-up call)."""
    call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def assert_goal(benchmark: Any, name: str, value: float, goal: float, unit: str = "x") -> None:
    """Record `name` = `value` and its goal, print both, and fail if `value` > `goal`."""
    benchmark.extra_info[name] = round(value, 3)
    benchmark.extra_info[f"{name}_goal"] = goal
    verdict = "ok" if value <= goal else "MISSED"
    where = benchmark.group or benchmark.name
    print(f"\n{where}: {name} = {value:.3f}{unit} (goal ≤ {goal}{unit}) {verdict}")
    assert value <= goal, f"{name} = {value:.3f}{unit}, goal ≤ {goal}{unit}"
