"""The agent and the local strategy against real JVMs, through the terminal entry point and
the session: every catalog tool on JVM 11/17/21/25, and the failures a user must understand."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.commands.grammar import parse_command
from bot.jvm.catalog import CATALOG
from bot.local.strategy import LocalBackend
from bot.model.errors import AmbiguousTarget, AttachFailed, DeadlineExceeded, TargetNotFound
from bot.model.request import Request
from bot.model.results import Result
from bot.session.run import run_request
from handlers.terminal import EXIT_FAILED, EXIT_OK, run_text
from tests.support.jvms import REPO, jdk_home
from tests.support.settings import terminal_service


def request(text: str) -> Request:
    parsed = parse_command(text)
    assert isinstance(parsed, Request)
    return parsed


async def run(text: str, **kwargs: object) -> Result:
    backend = LocalBackend(**kwargs)  # type: ignore[arg-type]
    return await run_request(request(text), backend)


def pid_text(jvm_pid: int, tool: str) -> str:
    # profile's shortest recording: its default (20 s) proves nothing more here.
    return f"{tool} pid={jvm_pid}" + (" duration=5" if tool == "profile" else "")


@pytest.mark.parametrize("tool", [t.name for t in CATALOG])
async def test_every_catalog_tool_answers_from_a_real_jvm(cowweb_factory, java_version, tool):
    jvm = cowweb_factory(java_version)
    result = await run(pid_text(jvm.pid, tool))
    assert result.raw.strategy == "local"
    assert result.analysis.headline
    if tool == "profile":  # the recording reaches the user as the analysis's files
        # cowweb idles: its threads wait, so JDK 11-25 may catch no Java samples in 5 s, and
        # then no flame graph is drawn; the recording is never dropped.
        names = {a.name for a in result.analysis.attachments}
        assert "profile.jfr" in names, result.analysis
        assert names <= {"flame.png", "collapsed.txt", "profile.jfr"}, names
        assert result.raw.steps == ()
        return
    assert result.raw.steps and all(s.text.strip() for s in result.raw.steps)
    if tool != "jps":
        assert {s.pid for s in result.raw.steps} == {jvm.pid}
        assert f"pid {jvm.pid}" in result.target
    assert result.cleanup == "nothing left running"


async def test_threaddump_contains_cowwebs_named_threads(cowweb_factory, java_version):
    jvm = cowweb_factory(java_version)
    result = await run(f"threaddump pid={jvm.pid}")
    dump = result.raw.steps[0].text
    for name in ("barn-door-holder", "cow-waiting-1", "milker", "http-acceptor"):
        assert f'"{name}"' in dump
    assert not dump.startswith(f"{jvm.pid}:"), "jcmd's pid header must be stripped"
    assert "Connected to remote JVM" not in dump


async def test_jps_lists_the_jvm_with_its_jar_and_uid(cowweb_factory):
    jvm = cowweb_factory(17)
    result = await run("jps")
    line = next(f for f in result.analysis.findings if f.startswith(f"pid {jvm.pid} "))
    assert "cowweb.jar" in line
    assert f"uid {os.geteuid()}" in line


@pytest.mark.parametrize("attach_tool", ["jattach", "jcmd"])
async def test_agent_works_with_jattach_and_with_jcmd(cowweb_factory, attach_tool):
    jvm = cowweb_factory(21)
    req = request(f"version pid={jvm.pid}")
    result = await run_request(req, LocalBackend(java_home=jdk_home(25)), attach_tool=attach_tool)
    step = result.raw.steps[0]
    assert "JDK 21" in step.text
    tmp = Path(f"/proc/{jvm.pid}/root/tmp")
    assert not list(tmp.glob(f".attach_pid{jvm.pid}")), "the trigger file must be removed"


async def test_deadlock_is_named_in_the_summary(cowweb_factory):
    jvm = cowweb_factory(25, deadlock=True)
    result = await run(f"threaddump pid={jvm.pid}")
    summary = result.analysis.headline + "\n".join(result.analysis.findings)
    assert "worker-3" in summary and "worker-4" in summary
    assert "deadlock" in summary.lower()


async def test_pod_name_picks_the_jvm_by_its_command_line(cowweb_factory):
    jvm = cowweb_factory(11)
    other = cowweb_factory(17)
    del other
    with pytest.raises(AmbiguousTarget) as excinfo:
        await run("flags pod=cowweb")
    assert str(jvm.pid) in excinfo.value.message
    assert len(excinfo.value.choices) >= 2


async def test_unknown_local_app_is_not_found(cowweb_factory):
    cowweb_factory(11)
    with pytest.raises(
        TargetNotFound, match=r"no JVM matching .nosuchapp. is running on this machine"
    ):
        await run("flags pod=nosuchapp")


async def test_disabled_attach_gets_one_clear_sentence_and_no_dump_in_the_app_log(
    cowweb_factory,
):
    jvm = cowweb_factory(25, jvm_args=("-XX:+DisableAttachMechanism",))
    with pytest.raises(AttachFailed, match="DisableAttachMechanism") as excinfo:
        await run(f"threaddump pid={jvm.pid}")
    assert "\n" not in excinfo.value.message
    assert "Full thread dump" not in jvm.log()


async def test_a_jvm_that_never_answers_hits_the_deadline(cowweb_factory):
    jvm = cowweb_factory(25)
    os.kill(jvm.pid, 19)  # SIGSTOP: the JVM can no longer answer the attach handshake
    # The step's own 3 s deadline ends it, and the error says which deadline that was.
    with pytest.raises(DeadlineExceeded) as caught:
        await run_request(request(f"version pid={jvm.pid}"), LocalBackend(), step_deadline_s=3)
    assert "deadline of 3s" in caught.value.message


async def test_terminal_frontend_renders_result_and_snippet(cowweb_factory):
    jvm = cowweb_factory(25)
    out = io.StringIO()
    rc = await run_text(
        f"version pid={jvm.pid}", terminal_service(LocalBackend()), out, err=io.StringIO()
    )
    text = out.getvalue()
    assert rc == EXIT_OK
    assert text.startswith("┏ jdebug version · pid ")
    assert "── snippet version-" in text and "JDK 25" in text


async def test_terminal_frontend_reports_errors_in_one_line():
    out = io.StringIO()
    rc = await run_text(
        "flags pod=no-such-app-here", terminal_service(LocalBackend()), out, err=io.StringIO()
    )
    assert rc == EXIT_FAILED
    assert out.getvalue().startswith("✖ ") and out.getvalue().count("\n") == 1


def test_jdebug_run_cli_prints_the_flags(cowweb_factory):
    jvm = cowweb_factory(17)
    proc = subprocess.run(
        [sys.executable, "-m", "handlers", "run", f"flags pid={jvm.pid}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "-XX:MaxHeapSize=67108864" in proc.stdout  # the fixture starts it with -Xmx64m
    assert "Traceback" not in proc.stderr


def test_jdebug_console_answers_each_line(cowweb_factory):
    jvm = cowweb_factory(25)
    proc = subprocess.run(
        [sys.executable, "-m", "handlers", "console"],
        input=f"version pid={jvm.pid}\nbogus\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert "JDK 25" in proc.stdout
    assert 'unknown tool "bogus"' in proc.stdout
    assert proc.returncode == 2


async def test_several_dumps_show_threads_stuck_in_the_same_frames(cowweb_factory):
    jvm = cowweb_factory(25)
    result = await run(f"threaddump pid={jvm.pid} count=2 interval=1s")
    # JDK 25 writes the JSON dump too; cowweb has no virtual threads, so it adds no file.
    assert [s.name for s in result.raw.steps] == ["threaddump.1", "threaddump.2"]
    assert result.analysis.attachments == ()
    assert "stuck" in "\n".join(result.analysis.findings).lower()
