"""Files that are not whole JFR recordings: each gives a result with one-sentence notes,
never a traceback. Empty, random bytes, a thread dump named .jfr, cut at any byte, a second
chunk cut off, bytes flipped anywhere, an old format version, a missing file."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.jvm.jfr import Recording, read_recording
from bot.jvm.profile import PROFILE_EVENTS, summarise_profile
from tests.support.jfr_tool import summary_counts

DATA = Path(__file__).parent / "data" / "jfr"
HOTSPOT = DATA / "cpu-hotspot.jfr"  # JDK 25: metadata near the start, flushed once a second


def _one_sentence_notes(recording: Recording) -> None:
    for note in recording.notes:
        assert "\n" not in note and "Traceback" not in note
        assert note.endswith(".")


def read_recording_bytes(data: bytes) -> Recording:
    return read_recording(io.BytesIO(data))


def test_an_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.jfr"
    path.write_bytes(b"")

    recording = read_recording(path)
    summary = summarise_profile(recording, "cpu")

    assert recording.notes == ("empty.jfr is empty, not a JFR recording.",)
    assert recording.chunks == () and recording.execution_samples == ()
    assert summary.analysis.notes == recording.notes
    assert summary.analysis.headline.startswith("No CPU samples")


def test_random_bytes_are_not_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "noise.jfr"
    path.write_bytes(random.Random(16).randbytes(100_000))

    assert read_recording(path).notes == (
        "noise.jfr is not a JFR recording: it does not start with the JFR magic bytes FLR\\0.",
    )


def test_a_thread_dump_named_jfr_is_not_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "dump.jfr"
    path.write_bytes((DATA / "cpu-hotspot-dump-0.txt").read_bytes())

    recording = read_recording(path)

    assert recording.notes == (
        "dump.jfr is not a JFR recording: it does not start with the JFR magic bytes FLR\\0.",
    )
    for event in PROFILE_EVENTS:
        assert summarise_profile(recording, event).analysis.notes == recording.notes


def test_a_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    recording = read_recording(tmp_path / "gone.jfr")

    assert recording.notes == (f"cannot read {tmp_path / 'gone.jfr'}: No such file or directory.",)


def test_a_cut_recording_keeps_the_events_before_the_cut(tmp_path: Path) -> None:
    whole = read_recording(HOTSPOT)
    data = HOTSPOT.read_bytes()
    path = tmp_path / "cut.jfr"
    path.write_bytes(data[: len(data) // 2])

    cut = read_recording(path)

    assert cut.notes[0] == (
        f"chunk 1 is cut short at {len(data) // 2:,} of {len(data):,} bytes (the file was "
        "truncated); the events before the cut were read."
    )
    assert 0 < len(cut.execution_samples) < len(whole.execution_samples)
    # Each sample read is one of the full file's: same time, and each frame the same or,
    # where its method's pool was lost with the cut, unknown (and a note says so).
    full = {s.start_ns: s.stack for s in whole.execution_samples}
    unknown = 0
    for sample in cut.execution_samples:
        assert sample.start_ns in full
        expected = full[sample.start_ns]
        if sample.stack is None or expected is None:
            continue
        assert len(sample.stack.frames) == len(expected.frames)
        for ours, theirs in zip(sample.stack.frames, expected.frames, strict=True):
            unknown += ours.method == "?"
            assert ours == theirs or (ours.class_name, ours.method) == ("?", "?")
    if unknown:
        assert any("name methods its constant pools do not hold" in n for n in cut.notes)


def test_a_recording_cut_before_its_metadata_counts_what_it_can(workload_recording: Any) -> None:
    # JDK 11 writes the metadata at the end of the chunk.
    data = Path(workload_recording(11, "cpu")).read_bytes()

    cut = read_recording_bytes(data[: len(data) // 3])

    assert any("has no readable metadata" in note for note in cut.notes)
    assert cut.execution_samples == ()
    assert sum(cut.counts.values()) > 0


def test_cut_in_the_second_chunk_the_first_is_read_whole(tmp_path: Path) -> None:
    first, second = HOTSPOT.read_bytes(), (DATA / "deadlock.jfr").read_bytes()
    path = tmp_path / "two.jfr"
    path.write_bytes(first + second[: len(second) // 2])

    recording = read_recording(path)

    assert [c.complete for c in recording.chunks] == [True, False]
    assert any(note.startswith("chunk 2 is cut short") for note in recording.notes)
    assert recording.counts["jdk.ExecutionSample"] >= summary_counts(HOTSPOT)["jdk.ExecutionSample"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=HOTSPOT.stat().st_size))
def test_a_recording_cut_at_any_byte_never_raises(end: int) -> None:
    recording = read_recording_bytes(HOTSPOT.read_bytes()[:end])

    _one_sentence_notes(recording)
    for event in PROFILE_EVENTS:
        summarise_profile(recording, event)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=HOTSPOT.stat().st_size - 1), st.integers(0, 255)
        ),
        min_size=1,
        max_size=20,
    )
)
def test_bytes_changed_anywhere_never_raise(changes: list[tuple[int, int]]) -> None:
    data = bytearray(HOTSPOT.read_bytes())
    for offset, value in changes:
        data[offset] = value

    recording = read_recording_bytes(bytes(data))

    _one_sentence_notes(recording)
    for event in PROFILE_EVENTS:
        summarise_profile(recording, event)


def test_a_chunk_without_compressed_integers_is_skipped_with_a_note(tmp_path: Path) -> None:
    data = bytearray(HOTSPOT.read_bytes())
    data[67] &= ~1  # the flags' low byte: bit 0 is "compressed integers"
    path = tmp_path / "fixed-width.jfr"
    path.write_bytes(bytes(data))

    recording = read_recording(path)

    assert recording.notes == (
        "chunk 1 does not use compressed integers, a layout no JDK writes or reads; "
        "it was skipped.",
    )
    assert recording.execution_samples == ()


def test_a_chunk_with_compressed_ticks_is_read_with_a_note(tmp_path: Path) -> None:
    data = bytearray(HOTSPOT.read_bytes())
    data[67] |= 1 << 2  # the flags' low byte: bit 2 is "compressed ticks"
    path = tmp_path / "ticks.jfr"
    path.write_bytes(bytes(data))

    recording = read_recording(path)

    assert recording.notes == (
        "chunk 1 stores compressed ticks, which this reader does not unpack; its event times "
        "may be wrong.",
    )
    assert len(recording.execution_samples) == len(read_recording(HOTSPOT).execution_samples)


def test_an_old_format_version_is_named(tmp_path: Path) -> None:
    data = bytearray(HOTSPOT.read_bytes())
    data[4:8] = b"\x00\x01\x00\x00"  # JDK 8–10 wrote 1.0
    path = tmp_path / "old.jfr"
    path.write_bytes(bytes(data))

    assert read_recording(path).notes == (
        "old.jfr is not a JFR recording: it is JFR format 1.0; only 2.x (JDK 11 and later) "
        "can be read.",
    )


@pytest.mark.parametrize("size", [4, 30, 67])
def test_a_file_cut_inside_its_header_says_so(tmp_path: Path, size: int) -> None:
    path = tmp_path / "header.jfr"
    path.write_bytes(HOTSPOT.read_bytes()[:size])

    assert read_recording(path).notes == (
        f"header.jfr is not a JFR recording: its chunk header is cut short at {size} of 68 bytes.",
    )
