"""VM.native_memory summary from real JVMs 11/17/21/25, NMT on (every scale) and off.

Expected values come from the JVM's own output, read here with the test's own patterns (the
`Total:` line and the `- Name (reserved=..., committed=...)` lines), or from what the test set
(-Xmx64m); never from the parser under test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.nmt import parse_nmt_summary, summarise_nmt
from bot.jvm.units import format_bytes
from tests.support.jcmd import jcmd_text
from tests.support.jvms import RunningJvm, start_cowweb, stop

MiB = 1 << 20
UNIT = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
SCALES = ("KB", "MB", "GB")
# -Xmx64m comes from start_cowweb; a small -Xms leaves the heap room to grow.
NMT_ON = ("-XX:NativeMemoryTracking=summary", "-Xms8m", "-Xshare:auto")
RESTART_SENTENCE = (
    "start the JVM with -XX:NativeMemoryTracking=summary to see its native memory by "
    "category (the flag takes effect only at startup, so the JVM needs a restart)."
)

TOTAL = re.compile(r"^Total: reserved=(\d+)(KB|MB|GB), committed=(\d+)(KB|MB|GB)", re.M)
CATEGORY = re.compile(r"^-\s+(.+?) \(reserved=(\d+)(KB|MB|GB), committed=(\d+)(KB|MB|GB)\)", re.M)


@dataclass(frozen=True)
class Row:
    name: str
    reserved: int
    committed: int


def total_of(text: str) -> tuple[int, int]:
    """(reserved, committed) bytes from the JVM's `Total:` line."""
    match = TOTAL.search(text)
    assert match, text
    return int(match[1]) * UNIT[match[2]], int(match[3]) * UNIT[match[4]]


def rows_of(text: str) -> list[Row]:
    """The categories in the JVM's order."""
    return [
        Row(m[1], int(m[2]) * UNIT[m[3]], int(m[4]) * UNIT[m[5]]) for m in CATEGORY.finditer(text)
    ]


def shown(count: int, unit: str) -> str:
    return f"under 0.5 {unit[0]}iB" if count == 0 else format_bytes(count)


@dataclass(frozen=True)
class NmtTexts:
    """What one JVM answered: `summary scale=X` per scale, and with a scale it refuses."""

    by_scale: dict[str, str]
    bad_scale: str


@pytest.fixture(scope="module")
def nmt_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[int], NmtTexts]]:
    """`nmt_of(version)`: the outputs of one cowweb run with NMT on, stopped once read."""
    texts: dict[int, NmtTexts] = {}
    log_dir = tmp_path_factory.mktemp("cowweb-nmt")

    def capture(version: int) -> NmtTexts:
        if version not in texts:
            jvm = start_cowweb(version, log_dir, jvm_args=NMT_ON)
            try:
                by_scale = {
                    s: jcmd_text(version, jvm.pid, "VM.native_memory", "summary", f"scale={s}")
                    for s in SCALES
                }
                bad = jcmd_text(version, jvm.pid, "VM.native_memory", "summary", "scale=XB")
                texts[version] = NmtTexts(by_scale, bad)
            finally:
                stop(jvm)
        return texts[version]

    yield capture


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("limit", [None, 256 * MiB], ids=["no-limit", "limit-256MiB"])
def test_summary_gives_total_committed_and_every_category_largest_first(
    nmt_of: Callable[[int], NmtTexts], java_version: int, scale: str, limit: int | None
) -> None:
    text = nmt_of(java_version).by_scale[scale]
    _, committed = total_of(text)
    rows = rows_of(text)

    summary = parse_nmt_summary(text)
    analysis = summarise_nmt(text, scale=scale, memory_limit_bytes=limit)

    assert summary.unrecognised == ()
    assert [(c.name, c.reserved_bytes, c.committed_bytes) for c in summary.categories] == [
        (r.name, r.reserved, r.committed) for r in rows
    ]
    expected = f"Native memory: {shown(committed, scale)} committed"
    if limit is not None and committed:
        expected += f" = {round(100 * committed / limit)}% of the container's 256 MiB limit"
    elif limit is not None:  # under half a GiB at scale=GB: no percentage to give
        expected += " (the container's limit is 256 MiB)"
    largest = sorted((r for r in rows if r.committed), key=lambda r: -r.committed)[:3]
    if largest:
        expected += "; largest " + ", ".join(
            f"{r.name} {format_bytes(r.committed)}" for r in largest
        )
    assert analysis.headline == expected
    # Each category of 1% or more has its own line, in order of committed memory.
    big = [r for r in sorted(rows, key=lambda r: -r.committed) if r.committed >= committed / 100]
    lines = [f for f in analysis.findings if f.split(":")[0] in {r.name for r in rows}]
    assert [line.split(":")[0] for line in lines] == [r.name for r in big]
    for row, line in zip(big, lines, strict=True):
        assert line.startswith(f"{row.name}: {shown(row.committed, scale)} committed")
    if scale == "KB":
        assert analysis.notes == ()
    else:
        assert analysis.notes == (
            f"The JVM rounds every amount to the nearest {scale[0]}iB at scale={scale} "
            "and leaves out smaller categories; scale=KB shows them all.",
        )


@pytest.mark.parametrize("scale", ["KB", "MB"])
def test_java_heap_is_reserved_at_the_xmx_the_test_set(
    nmt_of: Callable[[int], NmtTexts], java_version: int, scale: str
) -> None:
    text = nmt_of(java_version).by_scale[scale]

    heap = next(c for c in parse_nmt_summary(text).categories if c.name == "Java Heap")
    analysis = summarise_nmt(text, scale=scale, memory_limit_bytes=None)

    assert heap.reserved_bytes == 64 * MiB
    line = next(f for f in analysis.findings if f.startswith("Java Heap: "))
    if heap.committed_bytes < heap.reserved_bytes:
        assert line.endswith(", 64 MiB reserved (the heap's maximum)")


def test_a_limit_near_the_committed_total_is_a_warning_and_the_heap_maximum_is_projected(
    nmt_of: Callable[[int], NmtTexts], java_version: int
) -> None:
    text = nmt_of(java_version).by_scale["KB"]
    _, committed = total_of(text)
    heap = next(r for r in rows_of(text) if r.name == "Java Heap")
    limit = committed * 100 // 95  # committed is 95% of it

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=limit)

    assert analysis.findings[0].startswith(
        "Committed memory is close to the container's limit (95%): the kernel kills the "
        "container when its memory reaches the limit"
    )
    if heap.committed < heap.reserved:
        at_max = committed - heap.committed + heap.reserved
        expected = (
            f"If the heap grows to its maximum of 64 MiB, the JVM commits about "
            f"{format_bytes(at_max)} = {round(100 * at_max / limit)}% of the limit"
        )
        if at_max > limit:
            expected += ": lower -Xmx (or MaxRAMPercentage) or raise the container's memory limit"
        assert analysis.findings[1] == expected


def test_a_limit_below_the_committed_total_is_said_to_be_exceeded(
    nmt_of: Callable[[int], NmtTexts], java_version: int
) -> None:
    text = nmt_of(java_version).by_scale["KB"]
    _, committed = total_of(text)

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=committed // 2)

    assert "= 200% of the container's" in analysis.headline
    assert analysis.findings[0].startswith("Committed memory is over the container's limit (200%)")


def test_a_comfortable_limit_gives_no_warning(
    nmt_of: Callable[[int], NmtTexts], java_version: int
) -> None:
    text = nmt_of(java_version).by_scale["KB"]

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=4 << 30)

    assert not any(f.startswith("Committed memory is") for f in analysis.findings)
    assert not any(
        f.startswith("If the heap grows") and "lower -Xmx" in f for f in analysis.findings
    )


def test_a_scale_the_jvm_refuses_gets_one_sentence(
    nmt_of: Callable[[int], NmtTexts], java_version: int
) -> None:
    text = nmt_of(java_version).bad_scale
    assert "Incorrect scale value: XB" in text  # the JVM's own words

    analysis = summarise_nmt(text, scale="XB", memory_limit_bytes=None)

    assert analysis.headline == "The JVM refused scale=XB: use scale=KB, MB or GB."
    assert analysis.findings == () and analysis.notes == ()


def test_output_in_another_scale_than_asked_is_noted(nmt_of: Callable[[int], NmtTexts]) -> None:
    text = nmt_of(25).by_scale["KB"]

    analysis = summarise_nmt(text, scale="MB", memory_limit_bytes=None)

    assert "scale=MB was asked for but the output is in KB." in analysis.notes


# --- NMT off ----------------------------------------------------------------------------------


def test_nmt_off_gives_one_sentence_naming_the_flag_and_the_restart(
    cowweb_factory: Callable[..., RunningJvm], java_version: int
) -> None:
    jvm = cowweb_factory(java_version, jvm_args=("-Xshare:auto",))
    text = jcmd_text(java_version, jvm.pid, "VM.native_memory", "summary")
    assert "Native memory tracking is not enabled" in text  # the JVM's own words, every JDK

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=512 * MiB)

    assert analysis.headline == f"Native memory tracking is off in this JVM: {RESTART_SENTENCE}"
    assert analysis.findings == () and analysis.notes == ()


def test_nmt_shut_down_at_runtime_on_jdk11_gives_the_same_advice(
    cowweb_factory: Callable[..., RunningJvm],
) -> None:
    # Only JDK 11 still has `VM.native_memory shutdown`; 17 ignores it and 21 rejects it.
    jvm = cowweb_factory(11, jvm_args=NMT_ON)
    assert "turned off" in jcmd_text(11, jvm.pid, "VM.native_memory", "shutdown")
    text = jcmd_text(11, jvm.pid, "VM.native_memory", "summary")
    assert "Native memory tracking has been shutdown" in text

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=None)

    assert analysis.headline == (
        f"Native memory tracking was shut down in this JVM: {RESTART_SENTENCE}"
    )


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "  \n\n", "1234:\n"])
def test_empty_output_says_no_summary_was_found(text: str) -> None:
    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=None)

    assert analysis.headline == "Native memory summary not found in the output"
    assert analysis.notes == (
        "No `Total:` line was found: is this VM.native_memory summary output?",
    )


def test_garbage_is_reported_as_not_recognised() -> None:
    text = "java.lang.IllegalArgumentException: Unknown diagnostic command\n"

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=256 * MiB)

    assert analysis.headline == "Native memory summary not found in the output"
    assert analysis.notes[0] == (
        "1 line(s) were not recognised, "
        "e.g. 'java.lang.IllegalArgumentException: Unknown diagnostic command'."
    )


def test_truncated_output_keeps_what_was_read_and_says_it_looks_cut(
    nmt_of: Callable[[int], NmtTexts],
) -> None:
    text = nmt_of(25).by_scale["KB"]
    rows = rows_of(text)

    for cut in range(len(text) + 1):
        analysis = summarise_nmt(text[:cut], scale="KB", memory_limit_bytes=256 * MiB)
        assert analysis.headline

    # Cut just before the Code category: Java Heap, Class and Thread survive.
    code_line = re.search(r"^-\s+Code \(", text, re.M)
    assert code_line, text
    cut = code_line.start()
    summary = parse_nmt_summary(text[:cut])
    analysis = summarise_nmt(text[:cut], scale="KB", memory_limit_bytes=None)
    assert [c.name for c in summary.categories] == [r.name for r in rows[:3]]
    assert any(n.endswith("total: the output looks truncated.") for n in analysis.notes)
    # Cut inside a category line: that line is reported, not guessed at.
    cut = text.index("Code (reserved=") + len("Code (reser")
    analysis = summarise_nmt(text[:cut], scale="KB", memory_limit_bytes=None)
    assert any("not recognised" in n and "Code (reser" in n for n in analysis.notes)


def test_an_unknown_category_is_kept() -> None:
    text = (
        "Native Memory Tracking:\n\n"
        "Total: reserved=3000KB, committed=2048KB\n"
        "-                 Java Heap (reserved=2048KB, committed=1024KB)\n"
        "                            (mmap: reserved=2048KB, committed=1024KB)\n"
        "-            Moo Allocator (reserved=1024KB, committed=1024KB)\n"
        "                            (malloc=1024KB tag=Moo Allocator #3)\n"
    )

    analysis = summarise_nmt(text, scale="KB", memory_limit_bytes=None)

    assert (
        analysis.headline
        == "Native memory: 2 MiB committed; largest Java Heap 1 MiB, Moo Allocator 1 MiB"
    )
    assert "Moo Allocator: 1 MiB committed" in analysis.findings
    assert analysis.notes == ()


@settings(max_examples=300)
@given(st.text(), st.sampled_from(["KB", "MB", "GB", "bad"]), st.none() | st.integers(0, 1 << 40))
def test_any_text_gives_an_analysis(text: str, scale: str, limit: int | None) -> None:
    analysis = summarise_nmt(text, scale=scale, memory_limit_bytes=limit)
    assert analysis.headline


async def test_jdebug_run_nmt_answers_through_the_catalog(tmp_path) -> None:
    """The catalog entry end to end: `jdebug run "nmt pid=N scale=KB"` on this machine."""
    import io

    from bot.local.strategy import LocalBackend
    from handlers.terminal import EXIT_OK, run_text
    from tests.support.settings import terminal_service

    jvm = start_cowweb(25, tmp_path, jvm_args=NMT_ON)
    try:
        out = io.StringIO()
        rc = await run_text(
            f"nmt pid={jvm.pid} scale=KB", terminal_service(LocalBackend()), out, err=io.StringIO()
        )
        text = out.getvalue()
        assert rc == EXIT_OK, text
        assert "Native memory: " in text and "committed" in text
        assert "VM.native_memory summary scale=KB" not in text  # the raw output, not the line
        assert "Total: reserved=" in text and "KB, committed=" in text
    finally:
        stop(jvm)
