"""Benchmark: the agent's tool step with jattach vs with jcmd (JDK 25) on the same JVM.

Both run in the same session against one cowweb, so their ratio is meaningful on any
machine; `make bench` prints them side by side (group "agent-tool-step").
"""

from __future__ import annotations

import asyncio

import pytest

from bot.commands.grammar import parse_command
from bot.local.strategy import LocalBackend
from bot.model.request import Request
from bot.session.run import run_request
from tests.support.jvms import jdk_home


@pytest.mark.parametrize("attach_tool", ["jattach", "jcmd"])
def test_bench_agent_version_step(benchmark, cowweb_factory, attach_tool):
    jvm = cowweb_factory(25)
    parsed = parse_command(f"version pid={jvm.pid}")
    assert isinstance(parsed, Request)
    backend = LocalBackend(java_home=jdk_home(25))

    def once() -> None:
        result = asyncio.run(run_request(parsed, backend, attach_tool=attach_tool))
        assert "JDK 25" in result.raw.steps[0].text

    benchmark.group = "agent-tool-step"
    benchmark.extra_info["attach_tool"] = attach_tool
    benchmark.pedantic(once, rounds=15, warmup_rounds=2)
