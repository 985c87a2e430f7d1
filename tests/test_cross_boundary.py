"""The seed's problem, solved without SYS_PTRACE: the JVM runs as uid 1000 in its own mount
namespace with a private tmpfs /tmp; the agent joins only its PID namespace (an ephemeral
container's topology), as root with the default container capabilities. Needs root."""

from __future__ import annotations

import os

import pytest

from bot.commands.grammar import parse_command
from bot.local.strategy import LocalBackend
from bot.model.errors import AttachFailed
from bot.model.request import Request
from bot.session.run import run_request
from tests.support.jvms import COWWEB_JAR, jdk_home
from tests.support.sandbox import DEBUG_JAVA_HOME, debug_container, jvm_container

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for Linux namespaces")


def request(text: str) -> Request:
    parsed = parse_command(text)
    assert isinstance(parsed, Request)
    return parsed


def debug_side(jvm, uid: int = 0, gid: int = 0) -> LocalBackend:
    """The agent in the JVM's PID namespace, its own mount namespace, a JDK 25 image."""
    return LocalBackend(
        java_home=DEBUG_JAVA_HOME, launcher=debug_container(jvm.pid, uid, gid, jdk_home(25))
    )


def start_contained(cowweb_factory, version: int, uid: int, gid: int, **kwargs):
    wrapper, java, jar = jvm_container(jdk_home(version), COWWEB_JAR, uid, gid, **kwargs)
    return cowweb_factory(version, wrapper=tuple(wrapper), java=java, jar=jar)


@pytest.mark.parametrize("attach_tool", ["jattach", "jcmd"])
async def test_threaddump_as_jvm_uid_works_without_sys_ptrace(cowweb_factory, attach_tool):
    jvm = start_contained(cowweb_factory, 17, 1000, 1000)
    backend = debug_side(jvm)
    result = await run_request(request("threaddump pod=cowweb"), backend, attach_tool=attach_tool)
    assert '"barn-door-holder"' in result.raw.steps[0].text
    # In the JVM's own PID namespace it is PID 1, and that is the pid the agent saw.
    assert result.raw.steps[0].pid == 1
    assert "uid 1000" in result.target


async def test_root_jvm_with_default_caps_is_reached_by_root_agent(cowweb_factory):
    jvm = start_contained(cowweb_factory, 11, 0, 0)
    backend = debug_side(jvm)
    result = await run_request(request("flags"), backend)
    assert "-XX:MaxHeapSize=67108864" in result.raw.steps[0].text


async def test_agent_of_another_uid_is_refused_with_the_precise_reason(cowweb_factory):
    jvm = start_contained(cowweb_factory, 25, 1000, 1000)
    backend = debug_side(jvm, 2000, 2000)
    with pytest.raises(AttachFailed) as excinfo:
        await run_request(request("threaddump"), backend)
    assert excinfo.value.message == (
        "the JVM (pid 1) runs as uid 1000 gid 1000 but this debug process runs as uid 2000 "
        "gid 2000; run it as runAsUser: 1000, runAsGroup: 1000"
    )
    assert "Full thread dump" not in jvm.log()


async def test_read_only_tmp_in_the_target_is_detected_before_any_attach(cowweb_factory):
    jvm = start_contained(cowweb_factory, 25, 1000, 1000, read_only_tmp=True)
    backend = debug_side(jvm)
    with pytest.raises(AttachFailed, match="/tmp is read-only"):
        await run_request(request("threaddump"), backend)
    assert "Full thread dump" not in jvm.log()
