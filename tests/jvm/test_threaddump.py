"""Thread dumps taken at test time from real JVMs (JDK 11/17/21/25), parsed and summarised.

What each test expects comes from the programs' sources, not from the parser: cowweb's
`Main.java` says which named thread is in which state holding or waiting for which lock, and
`data/Knots.java` ties the knots cowweb does not (quoted names, ReentrantLock deadlocks).
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.threaddump import parse_thread_dump, summarise_thread_dumps
from bot.model.request import Options
from tests.support.jvms import (
    JAVA_VERSIONS,
    compile_test_app,
    jattach_text,
    jdk_home,
    running_test_app,
    start_cowweb,
    stop,
)

DATA = Path(__file__).parent / "data"

# Main.java: (state, reason) of each named thread, and whether it is a daemon.
COWWEB_THREADS = {
    "barn-door-holder": ("TIMED_WAITING", "sleeping", True),
    "cow-waiting-1": ("BLOCKED", "on object monitor", True),
    "cow-waiting-2": ("BLOCKED", "on object monitor", True),
    "cow-sleeper-1": ("TIMED_WAITING", "sleeping", True),
    "cow-sleeper-2": ("TIMED_WAITING", "sleeping", True),
    "milker": ("WAITING", "parking", True),
    "http-acceptor": ("RUNNABLE", None, False),
}
QUOTED = 'say "moo" now'
HEADER_LOOKALIKE = 'tricky" #99 daemon prio=5 os_prio=0 tid=0x1 nid=0x1 runnable  [0x0]'
HEADER_LINE = re.compile(r'^"([^"]*)" .* tid=\S+ .*$', re.M)
CPU_FIELD = re.compile(r'^"([^"]*)" .*? cpu=([\d.]+)ms elapsed=([\d.]+)s ', re.M)


def thread_dump(pid: int) -> str:
    return jattach_text(pid, "Thread.print -l")


def locked_address(text: str, cls: str) -> str:
    """The address of the `- locked <…> (a cls)` line, read straight from the raw text."""
    match = re.search(r"- locked <(0x[0-9a-f]+)> \(a " + re.escape(cls) + r"\)", text)
    assert match, f"no lock of {cls} in the dump"
    return match.group(1)


@dataclass(frozen=True)
class TakenDump:
    version: int
    text: str


@pytest.fixture(scope="module", params=JAVA_VERSIONS, ids=[f"jdk{v}" for v in JAVA_VERSIONS])
def deadlocked_dump(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> TakenDump:
    """One dump of `cowweb --deadlock` per JDK, shared by the tests that only read text."""
    jvm = start_cowweb(request.param, tmp_path_factory.mktemp("cowweb"), deadlock=True)
    try:
        return TakenDump(request.param, thread_dump(jvm.pid))
    finally:
        stop(jvm)


# --- cowweb: states, locks and the JVM's own bookkeeping -------------------------------------


def test_named_threads_have_the_states_cowweb_puts_them_in(cowweb_factory, java_version):
    jvm = cowweb_factory(java_version)
    text = thread_dump(jvm.pid)
    dump = parse_thread_dump(text)

    assert dump.notes == ()
    assert dump.vm and f"({java_version}." in dump.vm
    for name, (state, reason, daemon) in COWWEB_THREADS.items():
        thread = dump.thread(name)
        assert thread is not None, name
        assert (thread.state, thread.state_reason, thread.daemon) == (state, reason, daemon)
        assert thread.number is not None and thread.cpu_ms is not None
        # Linux names each thread after its Java name (15 chars): proves the os id parse,
        # hex `nid=0x…` on 11/17 and `[N]`/decimal on 21/25.
        comm = Path(f"/proc/{jvm.pid}/task/{thread.os_thread_id}/comm").read_text().strip()
        assert comm == name[:15]
    vm_thread = dump.thread("VM Thread")
    assert vm_thread is not None and vm_thread.number is None and vm_thread.state is None
    smr_length = int(re.search(r"_java_thread_list=\S+ length=(\d+),", text).group(1))
    assert sum(1 for t in dump.threads if t.number is not None) == smr_length


def test_locks_are_read_as_held_and_waited_for(cowweb_factory, java_version):
    jvm = cowweb_factory(java_version)
    text = thread_dump(jvm.pid)
    dump = parse_thread_dump(text)
    barn_door = locked_address(text, "cowweb.Main$BarnDoor")

    holder = dump.thread("barn-door-holder")
    assert [(lock.address, lock.class_name) for lock in holder.locks_held] == [
        (barn_door, "cowweb.Main$BarnDoor")
    ]
    for cow in ("cow-waiting-1", "cow-waiting-2"):
        wait = dump.thread(cow).waiting_for
        assert (wait.kind, wait.lock.address) == ("waiting to lock", barn_door)
    milker = dump.thread("milker").waiting_for
    assert milker.kind == "parking to wait for"
    assert milker.lock.class_name.endswith("AbstractQueuedSynchronizer$ConditionObject")
    # main waits in Thread.join(): Object.wait() released that monitor, so main holds nothing.
    main = dump.thread("main")
    assert main.waiting_for.kind == "waiting on" and main.locks_held == ()


def test_blocked_cows_are_reported_behind_the_barn_door_holder(cowweb_factory, java_version):
    jvm = cowweb_factory(java_version)
    text = thread_dump(jvm.pid)
    analysis = summarise_thread_dumps([text], Options())
    barn_door = locked_address(text, "cowweb.Main$BarnDoor")

    headers = HEADER_LINE.findall(text)
    assert analysis.headline.startswith(f"{len(headers)} threads · 2 BLOCKED · ")
    assert "deadlock" not in analysis.headline
    assert (
        f"2 threads blocked behind barn-door-holder holding <{barn_door}> "
        "(a cowweb.Main$BarnDoor): cow-waiting-1, cow-waiting-2"
    ) in analysis.findings
    # The milker awaits a Condition, which no thread holds: nobody to blame.
    assert not any("milker" in f for f in analysis.findings)
    # Each cow runs its own lambda class; the stacks are still the same code.
    stacks = [f for f in analysis.findings if " share the stack at " in f]
    assert any(
        re.fullmatch(
            r"2 threads share the stack at cowweb\.Main\.enterBarn\(Main\.java:\d+\) "
            r"\(BLOCKED\): cow-waiting-1, cow-waiting-2",
            f,
        )
        for f in stacks
    ), stacks
    assert analysis.notes == ()


def test_two_dumps_show_stuck_threads_and_where_cpu_went(cowweb_factory, java_version):
    jvm = cowweb_factory(java_version)
    first = thread_dump(jvm.pid)
    for _ in range(100):  # work for http-acceptor between the dumps
        with urllib.request.urlopen(f"http://127.0.0.1:{jvm.port}/?say=moo", timeout=5) as r:
            assert b"moo" in r.read()
    second = thread_dump(jvm.pid)
    analysis = summarise_thread_dumps([first, second], Options.of(count=2, interval=1))

    stuck = next(f for f in analysis.findings if "stuck (same state and top frames in all" in f)
    assert "in all 2 dumps" in stuck
    assert "BLOCKED cow-waiting-1, cow-waiting-2" in stuck
    for name in ("barn-door-holder", "cow-sleeper-1", "cow-sleeper-2", "milker"):
        assert name in stuck
    # JDK housekeeping sits still by design: counted, not named.
    assert "Reference Handler" not in stuck and "JDK-only thread" in stuck

    # Rates read straight from the raw headers: ms of cpu= per s of elapsed= between dumps.
    before = {m[0]: (float(m[1]), float(m[2])) for m in CPU_FIELD.findall(first)}
    after = {m[0]: (float(m[1]), float(m[2])) for m in CPU_FIELD.findall(second)}
    rate = {
        n: (after[n][0] - before[n][0]) / (after[n][1] - before[n][1])
        for n in after
        if n in before and after[n][0] > before[n][0] and after[n][1] > before[n][1]
    }
    assert rate["http-acceptor"] > 0
    cpu = next(f for f in analysis.findings if f.startswith("CPU "))
    worth = {n: r for n, r in rate.items() if r >= 10}
    if not worth:
        assert cpu == "CPU between dumps: no thread used 1% of a core or more"
        return
    assert cpu.startswith("CPU per second of wall time between dumps: ")
    listed = re.findall(r"(?:: |\), )(.+?) [\d,]+ ms/s \(", cpu)
    assert len(listed) == min(5, len(worth))
    shown = [worth[n] for n in listed]
    assert shown == sorted(shown, reverse=True)
    assert min(shown) >= max((r for n, r in worth.items() if n not in listed), default=0)


# --- deadlocks ---------------------------------------------------------------------------------


def test_deadlock_names_both_threads_and_their_locks(deadlocked_dump):
    text = deadlocked_dump.text
    analysis = summarise_thread_dumps([text], Options())
    hay = locked_address(text, "cowweb.Main$Hay")
    milk = locked_address(text, "cowweb.Main$Milk")

    assert re.search(r"⚠ deadlock: worker-(3 ↔ worker-4|4 ↔ worker-3)$", analysis.headline)
    assert " 4 BLOCKED " in analysis.headline  # two cows and two workers
    deadlock_findings = [f for f in analysis.findings if "deadlock" in f]
    assert len(deadlock_findings) == 1, "the JVM's report and the lock graph are one deadlock"
    finding = deadlock_findings[0]
    # Main.java: worker-3 locks HAY then MILK, worker-4 locks MILK then HAY.
    assert f"worker-3 waits for <{milk}> (a cowweb.Main$Milk) held by worker-4" in finding
    assert f"worker-4 waits for <{hay}> (a cowweb.Main$Hay) held by worker-3" in finding
    assert "[JVM report + lock graph]" in finding


def test_jvm_deadlock_report_is_parsed_link_by_link(deadlocked_dump):
    dump = parse_thread_dump(deadlocked_dump.text)
    assert len(dump.deadlocks) == 1
    links = {link.thread: link for link in dump.deadlocks[0].links}
    assert set(links) == {"worker-3", "worker-4"}
    assert (links["worker-3"].waits_for.class_name, links["worker-3"].held_by) == (
        "cowweb.Main$Milk",
        "worker-4",
    )
    assert (links["worker-4"].waits_for.class_name, links["worker-4"].held_by) == (
        "cowweb.Main$Hay",
        "worker-3",
    )


def test_lock_graph_finds_the_deadlock_without_the_jvms_report(deadlocked_dump):
    text = deadlocked_dump.text
    without_report = text[: text.index("Found one Java-level deadlock:")]
    dump = parse_thread_dump(without_report)
    analysis = summarise_thread_dumps([without_report], Options())

    assert dump.deadlocks == ()
    assert "⚠ deadlock: worker-3 ↔ worker-4" in analysis.headline
    finding = next(f for f in analysis.findings if "deadlock" in f)
    assert "cowweb.Main$Hay" in finding and "cowweb.Main$Milk" in finding
    assert finding.endswith("[lock graph]")


# --- broken input: partial results and notes, never an exception ------------------------------


def test_truncated_dump_keeps_every_whole_thread_and_says_it_is_truncated(deadlocked_dump):
    text = deadlocked_dump.text
    all_names = {t.name for t in parse_thread_dump(text).threads}
    headers = [(m.group(1), m.end()) for m in HEADER_LINE.finditer(text)]
    jni_at = text.index("\nJNI global refs")

    @settings(max_examples=150, deadline=None)
    @given(cut=st.integers(0, len(text)))
    def check(cut: int) -> None:
        part = text[:cut]
        dump = parse_thread_dump(part)
        analysis = summarise_thread_dumps([part], Options())
        names = {t.name for t in dump.threads}
        assert {name for name, end in headers if end <= cut} <= names <= all_names
        if cut <= jni_at:
            assert analysis.notes, "a dump cut before its end must say so"
            assert "⚠" not in analysis.headline or "worker-4" in names
        if headers and headers[0][1] <= cut <= jni_at:
            assert any("truncated" in note for note in analysis.notes)
        if cut > jni_at:
            assert "⚠ deadlock: worker-3 ↔ worker-4" in analysis.headline
        if "Found one Java-level deadlock:" in part and "\nFound 1 deadlock." not in part:
            assert "the JVM's deadlock report is cut short" in analysis.notes

    check()


def test_unrecognised_lines_are_counted_and_skipped(deadlocked_dump):
    lines = deadlocked_dump.text.splitlines()
    state_lines = [i for i, line in enumerate(lines) if "java.lang.Thread.State:" in line]
    noisy = list(lines)
    for i in sorted(state_lines[2:4], reverse=True):
        noisy.insert(i + 1, "### not a dump line ###")
    clean = parse_thread_dump(deadlocked_dump.text)
    dump = parse_thread_dump("\n".join(noisy))

    assert [(t.name, t.state, t.frames) for t in dump.threads] == [
        (t.name, t.state, t.frames) for t in clean.threads
    ]
    assert dump.notes == ("2 lines were not recognised, e.g. '### not a dump line ###'",)


def test_shuffled_real_lines_never_raise(deadlocked_dump):
    lines = deadlocked_dump.text.splitlines()
    header_count = len(HEADER_LINE.findall(deadlocked_dump.text))

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.sampled_from(lines), max_size=400))
    def check(picked: list[str]) -> None:
        text = "\n".join(picked)
        analysis = summarise_thread_dumps([text, text], Options.of(count=2))
        assert analysis.headline
        assert len(parse_thread_dump(text).threads) <= max(header_count, len(picked))

    check()


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_random_text_gives_a_note_not_an_exception(text):
    analysis = summarise_thread_dumps([text], Options())
    assert analysis.headline and analysis.notes


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_give_a_note_not_an_exception(data):
    text = data.decode("utf-8", "replace")
    analysis = summarise_thread_dumps([text], Options.of(count=3))
    assert "asked for 3 dumps, got 1" in analysis.notes


def test_fewer_dumps_than_asked_and_empty_ones_are_noted(deadlocked_dump):
    analysis = summarise_thread_dumps([deadlocked_dump.text, ""], Options.of(count=3))
    assert "dump 2: the output is empty" in analysis.notes
    assert "asked for 3 dumps, got 2" in analysis.notes
    assert "worker-3" in analysis.headline  # the good dump is still summarised


def test_a_dump_of_only_blank_lines_is_noted_as_empty():
    assert parse_thread_dump(" \n\t\r\n\u3000\n").notes == ("the output is empty",)
    assert "the output is empty" not in parse_thread_dump(" \n x \n").notes


# --- Knots.java: the formats cowweb does not produce -------------------------------------------


@pytest.fixture(scope="module")
def knots_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_test_app(DATA / "Knots.java", tmp_path_factory.mktemp("knots"))


@dataclass(frozen=True)
class KnotsDump:
    pid: int
    text: str


@pytest.fixture(scope="module", params=JAVA_VERSIONS, ids=[f"jdk{v}" for v in JAVA_VERSIONS])
def knots(request: pytest.FixtureRequest, knots_classes: Path) -> Iterator[KnotsDump]:
    java = jdk_home(request.param) / "bin" / "java"
    argv = [str(java), "-Xmx32m", "-XX:+UseSerialGC", "-cp", str(knots_classes), "Knots"]
    with running_test_app(argv, b"knots ready", timeout=30) as pid:
        yield KnotsDump(pid, thread_dump(pid))


def test_names_with_quotes_and_spaces_are_read_whole(knots):
    dump = parse_thread_dump(knots.text)
    assert dump.notes == ()
    for name in (QUOTED, HEADER_LOOKALIKE):
        thread = dump.thread(name)
        assert thread is not None and thread.state == "TIMED_WAITING"
        assert thread.number != 99 and thread.daemon
        comm = Path(f"/proc/{knots.pid}/task/{thread.os_thread_id}/comm").read_text()
        assert comm.rstrip("\n") == name[:15]


def test_reentrant_lock_deadlock_names_both_synchronizers(knots):
    analysis = summarise_thread_dumps([knots.text], Options())
    assert re.search(
        r"⚠ deadlock: (left-right ↔ right-left|right-left ↔ left-right)$", analysis.headline
    )
    finding = next(f for f in analysis.findings if "deadlock" in f)
    sync = "(a java.util.concurrent.locks.ReentrantLock$NonfairSync)"
    assert re.search(
        r"left-right waits for <0x[0-9a-f]+> " + re.escape(sync) + " held by right-left", finding
    )
    assert re.search(
        r"right-left waits for <0x[0-9a-f]+> " + re.escape(sync) + " held by left-right", finding
    )
    assert finding.endswith("[JVM report + lock graph]")


def test_threads_queued_on_a_reentrant_lock_are_blamed_on_its_holder(knots):
    analysis = summarise_thread_dumps([knots.text], Options())
    assert any(
        re.fullmatch(
            r"3 threads blocked behind gate-keeper holding <0x[0-9a-f]+> "
            r"\(a java\.util\.concurrent\.locks\.ReentrantLock\$NonfairSync\): "
            r"gate-queue-1, gate-queue-2, gate-queue-3",
            finding,
        )
        for finding in analysis.findings
    ), analysis.findings


def test_identical_stacks_are_grouped(knots):
    analysis = summarise_thread_dumps([knots.text], Options())
    assert any(
        re.fullmatch(
            r"5 threads share the stack at Knots\.sleepForever\(Knots\.java:\d+\) "
            r"\(TIMED_WAITING\): pool-1, pool-2, pool-3, pool-4, pool-5",
            finding,
        )
        for finding in analysis.findings
    ), analysis.findings
