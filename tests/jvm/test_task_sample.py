"""The CPU sampler snippet and its parser: recorded samples, threads that come and go, shells,
and bad input (one sentence, never a traceback).

data/hot/ holds samples recorded from GcWorkloads burn (see data/hot/README.md); the
expected figures below were worked out by hand from those files.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.hot import analyse_hot, summarise_hot
from bot.jvm.tasks import SAMPLE_SCRIPT, parse_task_sample, sample_argv
from tests.support.jvms import jattach_text
from tests.support.polling import wait_for
from tests.support.workloads import compile_workloads, run_snippet, running_workload

HOT = Path(__file__).parent / "data" / "hot"
SPAWNED = "jdebug-spawned-"  # the kernel keeps 15 characters of a thread's name: all of this


def recorded(name: str) -> tuple[str, str, str]:
    return tuple(  # type: ignore[return-value]
        (HOT / f"{name}-{part}.txt").read_text() for part in ("first", "dump", "second")
    )


def test_a_namespaced_jdk11_sample_names_the_burner_through_its_nspid() -> None:
    first, dump, second = recorded("ns-jdk11")

    hot = analyse_hot(first, dump, second, 2)

    # uptime 7335.27 -> 7337.30; burner (tid 20880, NSpid 20880 18, nid=0x12) utime+stime
    # 57 -> 219 ticks; the whole JVM 68+1 -> 231+1.
    assert hot.interval_s == pytest.approx(2.03)
    top = hot.threads[0]
    assert (top.name, top.tid, top.nid, top.state) == ("jdebug-burner", 20880, 18, "RUNNABLE")
    assert top.cores == pytest.approx(1.62 / 2.03)
    assert top.frames[0] == "GcWorkloads.burnCpu(GcWorkloads.java:53)"
    assert hot.jvm_cores == pytest.approx(1.63 / 2.03)
    assert hot.limit is not None and hot.limit.cores is None
    assert hot.allowed_cpus == 2


def test_a_host_jdk21_sample_joins_by_the_decimal_nid() -> None:
    first, dump, second = recorded("burn-jdk21")

    summary = summarise_hot(first, dump, second, 2, top=1)

    # burner tid 20796 = nid 20796: 56+0 -> 243+1 ticks over 7332.49 -> 7334.52; the JVM
    # 65+2 -> 253+3 ticks.
    assert summary.headline == (
        "jdebug-burner uses 93% of a core; the JVM uses 0.93 cores "
        "(no CPU limit; 47% of its 2 CPUs)"
    )
    assert summary.findings[0] == (
        "93% jdebug-burner: RUNNABLE at GcWorkloads.burnCpu(GcWorkloads.java:53) ← "
        "GcWorkloads$$Lambda/0x0000000100000a08.run(Unknown Source)"
    )


def test_a_thread_missing_from_a_cut_first_sample_is_left_out_not_overcounted() -> None:
    first, dump, second = recorded("burn-jdk21")
    cut = "\n".join(line for line in first.splitlines() if "20796" not in line)

    hot = analyse_hot(cut, dump, second, 2)

    assert "jdebug-burner" not in [t.name for t in hot.threads]
    assert any("missing from it" in note for note in hot.notes)


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_workloads(tmp_path_factory.mktemp("gc-workloads"))


def spawned_sample(pid: int) -> str | None:
    text = run_snippet(SAMPLE_SCRIPT, pid).stdout
    names = (t.name for t in parse_task_sample(text).tasks.values())
    return text if any(name.startswith(SPAWNED) for name in names) else None


def test_threads_that_start_and_end_between_the_samples_are_reported_not_crashed_on(
    classes: Path, tmp_path: Path
) -> None:
    with running_workload(17, classes, "spawn", tmp_path, ("-Xmx64m",)) as workload:
        # The first sample is one that holds a spawned thread (there is one from the start).
        first = wait_for(lambda: spawned_sample(workload.pid), what="a spawned thread")
        dump = jattach_text(workload.pid, "Thread.print")
        time.sleep(1)  # the interval, over twice a spawned thread's 400 ms life
        second = run_snippet(SAMPLE_SCRIPT, workload.pid).stdout

    hot = analyse_hot(first, dump, second, 1)
    summary = summarise_hot(first, dump, second, 1, top=5)

    # A spawned thread is always alive, and none outlives the interval: those of the first
    # sample have ended, those of the second started after the first.
    assert hot.ended and all(name.startswith(SPAWNED) for name in hot.ended)
    # The dump's own attach starts the JVM's Attach Listener after the first sample too.
    started = [
        t for t in hot.threads if t.lifetime == "started during it" and t.name != "Attach Listener"
    ]
    assert started and all(t.name.startswith(SPAWNED) for t in started)
    for thread in started:
        assert thread.cores <= 0.03 + 0.02  # 30 ms of CPU each, in 10 ms ticks
    assert any("ended during the interval (e.g. jdebug-spawned-" in n for n in summary.notes)


def test_the_snippet_gives_the_same_records_in_dash_and_busybox() -> None:
    if not (shutil.which("dash") and shutil.which("busybox")):
        pytest.skip("needs both dash and busybox")
    pid = os.getpid()
    samples = []
    for shell in (("dash",), ("busybox", "sh")):
        result = run_snippet(SAMPLE_SCRIPT, pid, shell)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        samples.append(parse_task_sample(result.stdout))
    dash, busybox = samples
    assert dash.pid == busybox.pid == pid
    assert dash.complete and busybox.complete
    assert dash.notes == busybox.notes == ()
    assert set(dash.tasks) == set(busybox.tasks) and pid in dash.tasks
    assert dash.tasks[pid].nspid == pid  # the test runs in the host's PID namespace
    assert dash.limit == busybox.limit and dash.limit is not None


@pytest.mark.parametrize(
    ("argument", "code", "sentence"),
    [
        ("12a", 2, "The pid must be a number, got '12a'."),
        ("", 2, "The pid must be a number, got ''."),
        (
            "1;touch /tmp/jdebug-pwned",
            2,
            "The pid must be a number, got '1;touch /tmp/jdebug-pwned'.",
        ),
        ("999999999", 3, "No process with pid 999999999 is visible here."),
    ],
)
def test_a_bad_pid_gets_one_sentence_and_a_distinct_exit_code(
    argument: str, code: int, sentence: str
) -> None:
    result = run_snippet(SAMPLE_SCRIPT, argument)

    assert result.returncode == code
    assert parse_task_sample(result.stdout).problem == sentence
    assert summarise_hot(result.stdout, "", result.stdout, 2, 5).headline == sentence
    assert not Path("/tmp/jdebug-pwned").exists()


def test_sample_argv_carries_the_pid_only_as_an_argument() -> None:
    assert sample_argv(42) == ["/bin/sh", "-c", SAMPLE_SCRIPT, "jdebug-sample", "42"]


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("", "This is not the output of jdebug's CPU sampler (it is empty); take it again."),
        (
            "\x00\xff\x13garbage\x7f",
            "This is not the output of jdebug's CPU sampler (it starts with "
            "'\\x00ÿ\\x13garbage\\x7f'); take it again.",
        ),
        (
            "Full thread dump OpenJDK\n",
            "This is not the output of jdebug's CPU sampler (it starts with "
            "'Full thread dump OpenJDK'); take it again.",
        ),
    ],
)
def test_input_that_is_not_a_sample_gets_one_sentence(text: str, sentence: str) -> None:
    summary = summarise_hot(text, "", text, 2, 5)

    assert summary.headline == sentence
    assert summary.findings == ()


def test_a_sample_cut_short_still_reads_the_threads_before_the_cut() -> None:
    first, dump, second = recorded("burn-jdk21")
    lines = second.splitlines()
    burner_at = next(i for i, line in enumerate(lines) if "(jdebug-burner)" in line)
    cut_second = "\n".join(lines[: burner_at + 2]) + "\nstat 2080"  # mid-line, no `end`

    summary = summarise_hot(first, dump, cut_second, 2, top=1)

    assert summary.headline.startswith("jdebug-burner uses 93% of a core")
    assert "The CPU sample was cut short; threads after the cut are missing." in summary.notes


def test_samples_of_two_different_processes_are_refused() -> None:
    first, dump, _ = recorded("burn-jdk21")
    _, _, other = recorded("ns-jdk11")

    assert summarise_hot(first, dump, other, 2, 5).headline == (
        "The two CPU samples are of different processes (20720 and 20863)."
    )


SAMPLE_WORDS = ("stat", "nspid", "uptime", "limit", "end", "process", "(java)", "(", ")", "R")
SAMPLE_WORDS += ("v1", "v2", "max", "none", "0", "7", "-1", "99999999999", "\n", " ", "\t", "-")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SAMPLE_WORDS), max_size=80).map("".join))
def test_the_parser_never_raises_on_sample_shaped_garbage(text: str) -> None:
    sample = parse_task_sample(text)
    analyse_hot(text, "", text, 2)
    assert sample.problem is None or sample.problem.endswith(".")
