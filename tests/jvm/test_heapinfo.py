"""GC.heap_info from real JVMs of every version and collector: sizes, use, metaspace."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.heapinfo import parse_heap_info, summarise_heap_info
from bot.jvm.units import format_bytes
from bot.model.request import Options
from tests.support.jvms import jattach_text, start_cowweb, stop

MiB = 1 << 20
KiB = 1 << 10

# -Xmx64m -XX:+UseSerialGC come from the fixture; `-XX:-UseSerialGC` undoes the latter.
COLLECTORS = {
    "serial": ("Serial", ("-Xms64m", "-Xmn16m")),
    "parallel": ("Parallel", ("-XX:-UseSerialGC", "-XX:+UseParallelGC", "-Xms64m", "-Xmn16m")),
    "g1": ("G1", ("-XX:-UseSerialGC", "-XX:+UseG1GC", "-Xms64m")),
    "z": (
        "ZGC",
        ("-XX:-UseSerialGC", "-XX:+UnlockExperimentalVMOptions", "-XX:+UseZGC", "-Xms64m"),
    ),
    "shenandoah": (
        "Shenandoah",
        ("-XX:-UseSerialGC", "-XX:+UnlockExperimentalVMOptions", "-XX:+UseShenandoahGC", "-Xms64m"),
    ),
    "epsilon": (
        "Epsilon",
        ("-XX:-UseSerialGC", "-XX:+UnlockExperimentalVMOptions", "-XX:+UseEpsilonGC", "-Xms64m"),
    ),
}


HeapText = Callable[[int, str], str]


@pytest.fixture(scope="module")
def heap_info_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeapText]:
    """`heap_info_of(version, gc)`: GC.heap_info of a cowweb run with that collector.

    Each JVM is stopped as soon as its output is read; the tests share the texts.
    """
    texts: dict[tuple[int, str], str] = {}
    log_dir = tmp_path_factory.mktemp("cowweb-heap")

    def capture(version: int, gc: str) -> str:
        if (version, gc) not in texts:
            jvm = start_cowweb(version, log_dir, jvm_args=COLLECTORS[gc][1])
            try:
                texts[version, gc] = jattach_text(jvm.pid, "GC.heap_info")
            finally:
                stop(jvm)
        return texts[version, gc]

    yield capture


def _space_used_from_addresses(text: str, space: str) -> int:
    """Bytes used in `<space> space ... [bottom, top, ...)`, read from the addresses alone."""
    match = re.search(rf"{space}\s+space .*?\[(0x[0-9a-f]+),\s*(0x[0-9a-f]+)", text)
    assert match, f"no {space} space line in {text!r}"
    return int(match.group(2), 16) - int(match.group(1), 16)


def test_serial_generations_have_the_sizes_set_and_use_matching_their_addresses(
    heap_info_of: HeapText, java_version: int
) -> None:
    text = heap_info_of(java_version, "serial")

    info = parse_heap_info(text)

    assert info.collector == "Serial"
    assert info.unrecognised == ()
    young, old = info.areas
    # -Xms64m -Xmn16m: the old generation is the other 48 MiB; young excludes one survivor.
    assert old.total_bytes == 48 * MiB
    assert 12 * MiB < (young.total_bytes or 0) < 16 * MiB
    # HotSpot prints used in whole KiB, rounding down.
    eden_and_from = _space_used_from_addresses(text, "eden") + _space_used_from_addresses(
        text, "from"
    )
    assert young.used_bytes is not None and 0 <= eden_and_from - young.used_bytes < KiB
    assert old.used_bytes is not None
    assert 0 <= _space_used_from_addresses(text, "the") - old.used_bytes < KiB
    assert info.used_bytes == young.used_bytes + old.used_bytes


@pytest.mark.parametrize("gc", list(COLLECTORS))
def test_every_collector_layout_is_fully_recognised_with_its_heap_size(
    heap_info_of: HeapText, java_version: int, gc: str
) -> None:
    label = COLLECTORS[gc][0]
    text = heap_info_of(java_version, gc)

    info = parse_heap_info(text)
    analysis = summarise_heap_info([text], Options())

    assert info.collector == label
    assert analysis.notes == (), text
    assert info.used_bytes is not None and info.total_bytes is not None
    assert 0 < info.used_bytes <= info.total_bytes <= 64 * MiB
    if gc in ("serial", "parallel"):
        assert info.areas[-1].total_bytes == 48 * MiB
    else:
        assert info.total_bytes == 64 * MiB
    assert analysis.headline.startswith(f"{label} heap: {format_bytes(info.used_bytes)} used of")
    assert format_bytes(info.total_bytes) in analysis.headline


def test_metaspace_is_reported_where_the_jvm_prints_it_and_said_missing_where_not(
    heap_info_of: HeapText, java_version: int
) -> None:
    text = heap_info_of(java_version, "serial")

    info = parse_heap_info(text)
    analysis = summarise_heap_info([text], Options())

    if "Metaspace" in text:
        assert info.metaspace is not None
        m = info.metaspace
        assert 0 < m.used_bytes <= m.committed_bytes <= m.reserved_bytes
        assert f"metaspace {format_bytes(m.used_bytes)} used" in analysis.headline
        assert any(f.startswith("Metaspace: ") for f in analysis.findings)
    else:
        # JDK 25 no longer prints metaspace here.
        assert java_version >= 25
        assert info.metaspace is None
        assert "metaspace not in this output" in analysis.headline


def test_truncated_heap_info_keeps_what_was_read_and_never_raises(
    heap_info_of: HeapText,
) -> None:
    text = heap_info_of(17, "serial")
    full = parse_heap_info(text)

    for cut in range(len(text) + 1):
        partial = parse_heap_info(text[:cut])
        analysis = summarise_heap_info([text[:cut]], Options())
        assert len(partial.areas) <= len(full.areas)
        if not partial.areas:
            assert analysis.notes, cut
    # Cut inside the tenured line: the young generation survives, the rest is a note.
    cut = text.index("tenured generation") + len("tenured gen")
    partial_analysis = summarise_heap_info([text[:cut]], Options())
    assert parse_heap_info(text[:cut]).areas[0] == full.areas[0]
    assert any("not recognised" in n for n in partial_analysis.notes)


def test_error_text_instead_of_heap_info_gives_a_note_not_an_exception() -> None:
    text = "java.lang.IllegalArgumentException: Unknown diagnostic command\n"

    analysis = summarise_heap_info([text], Options())

    assert analysis.headline == "Heap usage not found in the output"
    assert any("not recognised" in n for n in analysis.notes)


@settings(max_examples=300)
@given(st.text())
def test_any_text_gives_an_analysis(text: str) -> None:
    analysis = summarise_heap_info([text], Options())
    assert analysis.headline


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (459664, "449 KiB"),
        (64 * MiB, "64 MiB"),
        (1398472, "1.3 MiB"),
        (25276514304, "23.5 GiB"),
    ],
)
def test_byte_counts_are_shown_in_binary_units(count: int, shown: str) -> None:
    assert format_bytes(count) == shown
