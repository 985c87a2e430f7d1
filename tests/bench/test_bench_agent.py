"""Benchmark: the agent's tool step (the real `version` request through the local backend:
agent script, /proc scan, identity match, framing, then the attach) against the JVM's own
attach alone, the same tool run by hand on the same JVM in the same run.

Goals, from DESIGN.md ("jattach: under 10 ms" per step; jcmd "about 280 ms"): with jattach
the agent's step ≤ 20× the bare `jattach <pid> jcmd VM.version` (a 2–3 ms attach may grow to
some 50 ms, no more); with jcmd ≤ 1.5× the bare `jcmd <pid> VM.version` (the JVM start
dominates, the agent adds little).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from bot.commands.grammar import parse_command
from bot.local.strategy import LocalBackend
from bot.model.request import Request
from bot.session.run import run_request
from tests.bench.goals import assert_goal, median_seconds
from tests.support.jvms import jdk_home

GOALS = {"jattach": 20.0, "jcmd": 1.5}


@pytest.mark.parametrize("attach_tool", ["jattach", "jcmd"])
def test_bench_agent_version_step(benchmark, cowweb_factory, attach_tool):
    jvm = cowweb_factory(25)
    parsed = parse_command(f"version pid={jvm.pid}")
    assert isinstance(parsed, Request)
    backend = LocalBackend(java_home=jdk_home(25))
    tool = (
        shutil.which("jattach") if attach_tool == "jattach" else str(jdk_home(25) / "bin" / "jcmd")
    )
    assert tool is not None
    bare = [tool, str(jvm.pid), *(["jcmd"] if attach_tool == "jattach" else []), "VM.version"]

    def attach_alone() -> None:
        done = subprocess.run(bare, capture_output=True, check=True, text=True)
        assert "JDK 25" in done.stdout

    def agent_step() -> None:
        result = asyncio.run(run_request(parsed, backend, attach_tool=attach_tool))
        assert "JDK 25" in result.raw.steps[0].text

    benchmark.group = f"agent-tool-step-{attach_tool}"
    benchmark.extra_info["attach_tool"] = attach_tool
    baseline_s = median_seconds(attach_alone, rounds=15 if attach_tool == "jattach" else 5)
    benchmark.pedantic(agent_step, rounds=15 if attach_tool == "jattach" else 5, warmup_rounds=1)
    step_s = benchmark.stats.stats.median
    benchmark.extra_info.update(
        bare_attach_ms=round(baseline_s * 1000, 1), agent_step_ms=round(step_s * 1000, 1)
    )
    assert_goal(benchmark, "ratio_to_bare_attach", step_s / baseline_s, GOALS[attach_tool])
