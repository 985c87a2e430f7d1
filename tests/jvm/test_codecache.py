"""Compiler.codecache from real JVMs 11/17/21/25: a normal segmented cache, an unsegmented
one, interpreter mode, and caches that `data/CodeCacheFiller.java` fills until the JVM
disables its compiler.

What a full cache must say is read from the JVM itself: the warning it printed in its own
output and the compilation state and counters in jcmd's text, each found by this test's own
patterns; sizes come from the flags the test set.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.codecache import parse_codecache, summarise_codecache
from bot.jvm.units import format_bytes
from tests.support.javac import compile_for_jdk11
from tests.support.jcmd import jcmd_text
from tests.support.jvms import RunningJvm, jdk_home, start_cowweb, stop
from tests.support.polling import wait_for

DATA = Path(__file__).parent / "data"
KiB, MiB = 1 << 10, 1 << 20
SEGMENTS = {"non-nmethods", "profiled nmethods", "non-profiled nmethods"}
FULL_STATE = "disabled (not enough contiguous free space left)"

# -XX:-UseCodeCacheFlushing makes a full cache disable the compiler for good (every JDK 11–25
# has the flag); with flushing on, the JVM keeps evicting code and never fills 3 MiB.
COWWEB_RUNS = {
    "segmented": ("-Xshare:auto",),
    "unsegmented": ("-Xshare:auto", "-XX:-SegmentedCodeCache", "-XX:ReservedCodeCacheSize=64m"),
    "interpreted": ("-Xshare:auto", "-Xint"),
}
FILLER_RUNS = {
    "full": ("-Xshare:auto", "-XX:ReservedCodeCacheSize=3m", "-XX:-UseCodeCacheFlushing"),
    "full-segmented": (
        "-Xshare:auto",
        "-XX:+SegmentedCodeCache",
        "-XX:ReservedCodeCacheSize=8m",
        "-XX:-UseCodeCacheFlushing",
    ),
}

HEAP_LINE = re.compile(r"^CodeHeap '([^']+)': size=(\d+)Kb,? used=(\d+)Kb", re.M)
WHOLE_LINE = re.compile(r"^CodeCache: size=(\d+)Kb,? used=(\d+)Kb", re.M)
STATE_LINE = re.compile(r"[Cc]ompilation: ([^,\n]+)")
FULL_COUNT = re.compile(r"full_count=(\d+)")
JVM_WARNING = re.compile(r"warning: (\S.* is full\. Compiler has been disabled\.)")
JVM_FLAG_HINT = re.compile(r"warning: Try increasing the code (?:heap|cache) size using -XX:(\w+)=")


@dataclass(frozen=True)
class CodeCacheRun:
    """jcmd's Compiler.codecache text, and what the JVM printed to its own output."""

    text: str
    log: str


def start_filler(
    version: int, classes: Path, log_dir: Path, jvm_args: tuple[str, ...]
) -> RunningJvm:
    """Run CodeCacheFiller until the JVM says its compiler has been disabled."""
    log_path = log_dir / f"filler-{version}-{time.monotonic_ns()}.log"
    java = jdk_home(version) / "bin" / "java"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(java),
                "-Xmx64m",
                "-XX:+UseSerialGC",
                *jvm_args,
                "-cp",
                str(classes),
                "CodeCacheFiller",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    jvm = RunningJvm(version, proc, 0, proc.pid, "", log_path)
    try:
        wait_for(
            lambda: JVM_WARNING.search(jvm.log()) or proc.poll() is not None,
            timeout=180,
            what=f"JDK {version}'s compiler to be disabled by a full code cache",
        )
        assert proc.poll() is None, f"the filler exited: {jvm.log()}"
    except BaseException:
        stop(jvm)
        raise
    return jvm


@pytest.fixture(scope="module")
def filler_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_for_jdk11(DATA / "CodeCacheFiller.java", tmp_path_factory.mktemp("filler"))


@pytest.fixture(scope="module")
def codecache_of(
    tmp_path_factory: pytest.TempPathFactory, filler_classes: Path
) -> Iterator[Callable[[int, str], CodeCacheRun]]:
    """`codecache_of(version, kind)`: one run's Compiler.codecache, its JVM stopped once read."""
    runs: dict[tuple[int, str], CodeCacheRun] = {}
    log_dir = tmp_path_factory.mktemp("codecache")

    def capture(version: int, kind: str) -> CodeCacheRun:
        if (version, kind) not in runs:
            if kind in COWWEB_RUNS:
                jvm = start_cowweb(version, log_dir, jvm_args=COWWEB_RUNS[kind])
            else:
                jvm = start_filler(version, filler_classes, log_dir, FILLER_RUNS[kind])
            try:
                runs[version, kind] = CodeCacheRun(
                    jcmd_text(version, jvm.pid, "Compiler.codecache"), jvm.log()
                )
            finally:
                stop(jvm)
        return runs[version, kind]

    yield capture


def segments_of(text: str) -> dict[str, tuple[int, int]]:
    """Segment name -> (size, used) bytes, read from the CodeHeap lines."""
    return {m[1]: (int(m[2]) * KiB, int(m[3]) * KiB) for m in HEAP_LINE.finditer(text)}


def test_a_normal_jvm_reports_its_three_segments_and_no_warning(
    codecache_of: Callable[[int, str], CodeCacheRun], java_version: int
) -> None:
    text = codecache_of(java_version, "segmented").text
    segments = segments_of(text)
    size = sum(s for s, _ in segments.values())
    used = sum(u for _, u in segments.values())

    analysis = summarise_codecache(text)

    assert set(segments) == SEGMENTS
    assert STATE_LINE.search(text)[1] == "enabled"  # type: ignore[index]
    assert analysis.headline == (
        f"Code cache: {format_bytes(used)} used of {format_bytes(size)} ({100 * used // size}%), "
        "3 segments; compilation enabled"
    )
    for name, (seg_size, seg_used) in segments.items():
        assert any(
            f.startswith(
                f"{name}: {format_bytes(seg_used)} used of {format_bytes(seg_size)} "
                f"({100 * seg_used // seg_size}%)"
            )
            for f in analysis.findings
        ), name
    assert not any("full" in f or "disabled" in f for f in analysis.findings)
    assert analysis.notes == ()


def test_an_unsegmented_cache_is_one_heap_of_the_size_set(
    codecache_of: Callable[[int, str], CodeCacheRun], java_version: int
) -> None:
    text = codecache_of(java_version, "unsegmented").text
    whole = WHOLE_LINE.search(text)
    assert whole and not HEAP_LINE.search(text)
    used = int(whole[2]) * KiB

    state = parse_codecache(text)
    analysis = summarise_codecache(text)

    assert [(h.name, h.size_bytes) for h in state.heaps] == [("CodeCache", 64 * MiB)]
    assert analysis.headline == (
        f"Code cache: {format_bytes(used)} used of 64 MiB ({100 * used // (64 * MiB)}%), "
        "one unsegmented heap; compilation enabled"
    )
    assert analysis.findings[0].startswith(f"CodeCache: {format_bytes(used)} used of 64 MiB")
    assert analysis.notes == ()


def test_a_full_cache_is_a_loud_finding_in_the_jvms_own_words(
    codecache_of: Callable[[int, str], CodeCacheRun], java_version: int
) -> None:
    run = codecache_of(java_version, "full")
    warning = JVM_WARNING.search(run.log)
    state = STATE_LINE.search(run.text)
    full_count = FULL_COUNT.search(run.text)
    assert warning and state and full_count
    assert warning[1] == "CodeCache is full. Compiler has been disabled."

    whole = WHOLE_LINE.search(run.text)
    assert whole
    used = int(whole[2]) * KiB

    analysis = summarise_codecache(run.text)

    assert analysis.headline == (
        f"JIT compiler disabled: the code cache is full; {format_bytes(used)} used of 3 MiB "
        f"({100 * used // (3 * MiB)}%) now, one unsegmented heap"
    )
    assert f'compilation "{state[1]}" and full_count={full_count[1]}' in analysis.findings[0]
    assert state[1] == FULL_STATE
    assert f'"{warning[1]}"' in analysis.findings[1]
    assert "-XX:ReservedCodeCacheSize" in analysis.findings[1]
    # -XX:-UseCodeCacheFlushing: the JVM does not turn the compiler back on.
    assert analysis.findings[2] == (
        "Compilation is off for good: it does not resume until the JVM restarts"
    )
    assert analysis.notes == ()


def test_a_full_segment_is_named_as_the_jvm_named_it_with_its_flag(
    codecache_of: Callable[[int, str], CodeCacheRun], java_version: int
) -> None:
    run = codecache_of(java_version, "full-segmented")
    warning = JVM_WARNING.search(run.log)
    flag = JVM_FLAG_HINT.search(run.log)
    assert warning and flag
    assert warning[1].startswith("CodeHeap '")

    used = sum(u for _, u in segments_of(run.text).values())

    analysis = summarise_codecache(run.text)

    assert analysis.headline == (
        f"JIT compiler disabled: the code cache is full; {format_bytes(used)} used of 8 MiB "
        f"({100 * used // (8 * MiB)}%) now, 3 segments"
    )
    assert FULL_STATE in analysis.findings[0]
    assert f'"{warning[1]}"' in analysis.findings[1]
    assert f"-XX:{flag[1]}" in analysis.findings[1]
    full_segment = warning[1].split("'")[1]
    assert any(f.startswith(f"{full_segment} is ") and "% full" in f for f in analysis.findings)
    assert analysis.notes == ()


def test_interpreter_mode_is_not_mistaken_for_a_full_cache(
    codecache_of: Callable[[int, str], CodeCacheRun], java_version: int
) -> None:
    text = codecache_of(java_version, "interpreted").text
    assert STATE_LINE.search(text)[1] == "disabled (interpreter mode)"  # type: ignore[index]

    analysis = summarise_codecache(text)

    assert analysis.headline.startswith("JIT compiler off: the JVM runs interpreted (-Xint)")
    assert not any("is full" in f for f in analysis.findings)
    assert analysis.notes == ()


# --- thresholds and counters, on text in the JDK 21 layout -----------------------------------

JDK21_LAYOUT = """\
4242:
CodeHeap 'non-profiled nmethods': size=120036Kb used={np}Kb max_used={np}Kb free={np_free}Kb
 bounds [0x00007f32e48c7000, 0x00007f32e4b37000, 0x00007f32ebe00000]
CodeHeap 'profiled nmethods': size=120032Kb used=223Kb max_used=223Kb free=119809Kb
 bounds [0x00007f32dce00000, 0x00007f32dd070000, 0x00007f32e4338000]
CodeHeap 'non-nmethods': size=5692Kb used=1155Kb max_used=1169Kb free=4537Kb
 bounds [0x00007f32e4338000, 0x00007f32e45a8000, 0x00007f32e48c7000]
CodeCache: size=245760Kb, used=1449Kb, max_used=1463Kb, free=244308Kb
 total_blobs=604, nmethods=197, adapters=315, full_count={full}
Compilation: {state}, stopped_count={stopped}, restarted_count={restarted}
"""


def jdk21_text(
    np: int = 71, full: int = 0, state: str = "enabled", stopped: int = 0, restarted: int = 0
) -> str:
    return JDK21_LAYOUT.format(
        np=np, np_free=120036 - np, full=full, state=state, stopped=stopped, restarted=restarted
    )


def test_a_segment_over_90_percent_full_is_a_warning_before_the_compiler_stops() -> None:
    analysis = summarise_codecache(jdk21_text(np=108100))  # 90.06%

    assert analysis.headline.endswith("compilation enabled")
    assert analysis.findings[0] == (
        "non-profiled nmethods is 90% full (11.7 MiB free): when it fills up, the JVM stops "
        "compiling"
    )


def test_a_segment_at_90_percent_is_not_yet_a_warning() -> None:
    analysis = summarise_codecache(jdk21_text(np=108032))  # 89.998%

    assert not any("% full" in f for f in analysis.findings)


def test_a_compiler_stopped_while_flushing_may_resume_and_past_stops_are_reported() -> None:
    stopped_now = summarise_codecache(jdk21_text(full=3, state=FULL_STATE, stopped=3, restarted=2))
    restarted = summarise_codecache(jdk21_text(full=3, stopped=3, restarted=3))

    assert stopped_now.findings[2] == (
        "Compilation was stopped 3 time(s) and restarted 2: it may resume if code cache "
        "flushing frees space"
    )
    assert restarted.headline.endswith("compilation enabled")
    assert "The code cache has been full 3 time(s) since the JVM started" in restarted.findings
    assert (
        "The compiler was stopped 3 time(s) for a full code cache and restarted 3: "
        "raise -XX:ReservedCodeCacheSize"
    ) in restarted.findings


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " \n\n", "4242:\n"])
def test_empty_output_says_no_code_cache_was_found(text: str) -> None:
    analysis = summarise_codecache(text)

    assert analysis.headline == "Code cache usage not found in the output"
    assert analysis.notes == (
        "No code heap line was recognised: is this Compiler.codecache output?",
    )


def test_garbage_is_reported_as_not_recognised() -> None:
    analysis = summarise_codecache(
        "java.lang.IllegalArgumentException: Unknown diagnostic command\n"
    )

    assert analysis.headline == "Code cache usage not found in the output"
    assert analysis.notes[0] == (
        "1 line(s) were not recognised, "
        "e.g. 'java.lang.IllegalArgumentException: Unknown diagnostic command'."
    )


def test_truncated_output_never_raises_and_says_what_is_missing(
    codecache_of: Callable[[int, str], CodeCacheRun],
) -> None:
    for version in (17, 21):
        text = codecache_of(version, "segmented").text
        for cut in range(len(text) + 1):
            assert summarise_codecache(text[:cut]).headline
        cut = STATE_LINE.search(text).start()  # type: ignore[union-attr]
        analysis = summarise_codecache(text[:cut])
        assert analysis.notes[-1] == "The output has no compilation state line: it looks truncated."
    # A state line cut short still reads as a disabled compiler, with a note.
    text = codecache_of(21, "full").text
    cut = text.index(FULL_STATE) + len("disabled (not eno")
    analysis = summarise_codecache(text[:cut])
    assert analysis.headline.startswith(
        'JIT compiler disabled: the JVM reports compilation "disabled (not eno"'
    )
    assert any("not one this parser knows" in n for n in analysis.notes)


@settings(max_examples=300)
@given(st.text())
def test_any_text_gives_an_analysis(text: str) -> None:
    assert summarise_codecache(text).headline


async def test_jdebug_run_codecache_answers_through_the_catalog(tmp_path) -> None:
    """The catalog entry end to end: `jdebug run "codecache pid=N"` on this machine."""
    import io

    from bot.local.strategy import LocalBackend
    from handlers.terminal import EXIT_OK, run_text
    from tests.support.jvms import start_cowweb, stop
    from tests.support.settings import terminal_service

    jvm = start_cowweb(21, tmp_path)
    try:
        out = io.StringIO()
        rc = await run_text(
            f"codecache pid={jvm.pid}", terminal_service(LocalBackend()), out, err=io.StringIO()
        )
        text = out.getvalue()
        assert rc == EXIT_OK, text
        assert "Code cache: " in text and "compilation enabled" in text
        assert "CodeHeap 'non-profiled nmethods'" in text  # the raw output follows
    finally:
        stop(jvm)
