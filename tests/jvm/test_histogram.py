"""GC.class_histogram from real JVMs: every row read, totals, the top classes by bytes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.histogram import parse_class_histogram, readable_class_name, summarise_histogram
from bot.jvm.units import format_bytes
from bot.model.request import Options
from tests.support.jvms import jattach_text, start_cowweb, stop

HistogramText = Callable[[int, str], str]


@pytest.fixture(scope="module")
def histogram_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistogramText]:
    """`histogram_of(version, command)`: that histogram command's output from a fresh cowweb.

    One JVM per version answers both commands and is stopped right after.
    """
    texts: dict[tuple[int, str], str] = {}
    log_dir = tmp_path_factory.mktemp("cowweb-histo")

    def capture(version: int, command: str) -> str:
        if (version, command) not in texts:
            jvm = start_cowweb(version, log_dir)
            try:
                for each in ("GC.class_histogram", "GC.class_histogram -all"):
                    texts[version, each] = jattach_text(jvm.pid, each)
            finally:
                stop(jvm)
        return texts[version, command]

    yield capture


def _jvm_total(text: str) -> tuple[int, int]:
    """(instances, bytes) from the JVM's own last line, `Total  <instances>  <bytes>`."""
    last = [line for line in text.splitlines() if line.strip()][-1].split()
    assert last[0] == "Total", last
    return int(last[1]), int(last[2])


@pytest.mark.parametrize("command", ["GC.class_histogram", "GC.class_histogram -all"])
def test_rows_add_up_to_the_jvms_total_line(
    histogram_of: HistogramText, java_version: int, command: str
) -> None:
    text = histogram_of(java_version, command)
    instances, size = _jvm_total(text)

    histogram = parse_class_histogram(text)

    assert histogram.unrecognised == ()
    assert histogram.total_reported
    assert (histogram.total_instances, histogram.total_bytes) == (instances, size)
    assert sum(r.bytes for r in histogram.rows) == size
    assert sum(r.instances for r in histogram.rows) == instances
    assert [r.rank for r in histogram.rows] == list(range(1, len(histogram.rows) + 1))


def test_top_classes_are_the_largest_by_bytes_with_human_sizes(
    histogram_of: HistogramText, java_version: int
) -> None:
    text = histogram_of(java_version, "GC.class_histogram")
    # The largest row, found here by splitting the raw lines.
    rows = [line.split() for line in text.splitlines() if re.match(r"\s*\d+:", line)]
    largest = max(rows, key=lambda r: int(r[2]))

    analysis = summarise_histogram([text], Options.of(top=5))
    top = parse_class_histogram(text).top(5)

    assert len(analysis.findings) == 5
    assert [r.bytes for r in top] == sorted((r.bytes for r in top), reverse=True)
    assert top[0].class_name == largest[3]
    first = analysis.findings[0]
    assert first.startswith(
        f"1. {readable_class_name(largest[3])}: {format_bytes(int(largest[2]))}"
    )
    assert f"{int(largest[1]):,} instances" in first
    for finding in analysis.findings:
        assert re.search(r": \d+(\.\d)? (B|KiB|MiB|GiB) \(\d+\.\d%\), [\d,]+ instances$", finding)
    _, size = _jvm_total(text)
    assert analysis.headline.startswith(f"{format_bytes(size)} in ")
    assert "after a full GC" in analysis.headline
    assert analysis.notes == ()


def test_default_top_is_twenty_and_all_says_no_gc_was_forced(histogram_of: HistogramText) -> None:
    text = histogram_of(25, "GC.class_histogram -all")

    analysis = summarise_histogram([text], Options.of(all=True))

    assert len(analysis.findings) == 20
    assert "no GC forced" in analysis.headline


def test_application_classes_have_no_module_and_jdk_classes_name_theirs(
    histogram_of: HistogramText, java_version: int
) -> None:
    histogram = parse_class_histogram(histogram_of(java_version, "GC.class_histogram"))

    by_name = {r.class_name: r for r in histogram.rows}
    cowweb = [r for r in histogram.rows if r.class_name.startswith("cowweb.")]
    assert cowweb
    assert all(r.module is None for r in cowweb)
    assert (by_name["java.lang.String"].module or "").startswith("java.base@")
    assert by_name["[B"].module == by_name["java.lang.String"].module


def test_truncated_histogram_sums_the_rows_read_and_says_so(histogram_of: HistogramText) -> None:
    text = histogram_of(21, "GC.class_histogram")
    cut = text.index("\n", len(text) // 2) + 1
    kept_rows = [line for line in text[:cut].splitlines() if re.match(r"\s*\d+:", line)]

    histogram = parse_class_histogram(text[:cut])
    analysis = summarise_histogram([text[:cut]], Options())

    assert not histogram.total_reported
    assert histogram.total_bytes == sum(int(line.split()[2]) for line in kept_rows)
    assert any("No Total line" in n for n in analysis.notes)
    for end in range(0, len(text), 211):
        summarise_histogram([text[:end]], Options.of(top=3))


def test_missing_rows_are_noticed_against_the_total_line(histogram_of: HistogramText) -> None:
    text = histogram_of(11, "GC.class_histogram")
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("3:"))

    analysis = summarise_histogram(["\n".join(lines[:row] + lines[row + 1 :])], Options())

    assert any("some rows are missing" in n for n in analysis.notes)


@pytest.mark.parametrize(
    ("descriptor", "readable"),
    [
        ("[B", "byte[]"),
        ("[[I", "int[][]"),
        ("[Ljava.lang.Object;", "java.lang.Object[]"),
        ("[[Ljava.lang.String;", "java.lang.String[][]"),
        ("java.util.HashMap$Node", "java.util.HashMap$Node"),
        ("cowweb.Main$$Lambda/0x0000000100067040", "cowweb.Main$$Lambda/0x0000000100067040"),
        ("[Q", "[Q"),
        ("[", "["),
    ],
)
def test_array_descriptors_read_as_java_types(descriptor: str, readable: str) -> None:
    assert readable_class_name(descriptor) == readable


def test_error_text_gives_a_note_not_an_exception() -> None:
    analysis = summarise_histogram(
        ["Unable to open socket file: target process not responding"], Options()
    )

    assert analysis.headline == "No class histogram found in the output"
    assert any("not recognised" in n for n in analysis.notes)


@settings(max_examples=300)
@given(st.text(), st.integers(min_value=-1, max_value=50))
def test_any_text_gives_an_analysis(text: str, top: int) -> None:
    assert summarise_histogram([text], Options.of(top=top)).headline
