"""The JFR reader against JDK 25's own `jfr summary` and `jfr print --json` on the same files.

The files: the jthreaddump corpus (JDK 25 recordings nobody here made, copied into
`data/jfr` with their LICENSE) and `settings=profile` recordings the tests make of
ProfileWorkloads on JDK 11, 17, 21 and 25. Every expected value is the JDK tool's.
"""

from __future__ import annotations

import functools
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.jvm.jfr import Recording, StackTrace, read_recording
from tests.support.jfr_tool import (
    duration_ns,
    instant_ns,
    json_frames,
    print_json,
    summary_chunks,
    summary_counts,
    values_of,
)
from tests.support.jvms import JAVA_VERSIONS, jattach_text
from tests.support.profile_workloads import (
    GREETING,
    WORKLOADS,
    compile_workloads,
    start_workload,
    stop_workload,
)

DATA = Path(__file__).parent / "data" / "jfr"
CORPUS = {p.stem: p for p in sorted(DATA.glob("*.jfr"))}
SOURCES = [f"corpus:{name}" for name in CORPUS] + [
    f"jdk{v}:{w}" for v in JAVA_VERSIONS for w in WORKLOADS
]
TYPED = (
    "jdk.ExecutionSample,jdk.NativeMethodSample,jdk.ObjectAllocationSample,"
    "jdk.ObjectAllocationInNewTLAB,jdk.ObjectAllocationOutsideTLAB,jdk.JavaMonitorEnter,"
    "jdk.ThreadPark,jdk.GarbageCollection,jdk.GCPhasePause,jdk.CPULoad"
)
# How `jfr print` shows ThreadPark's Long.MIN_VALUE timeout (parked without one).
NO_TIMEOUT = "PT-2562047788015215H-30M-8S"


@pytest.fixture(params=SOURCES)
def jfr_file(request: pytest.FixtureRequest, workload_recording: Any) -> Path:
    kind, name = request.param.split(":")
    if kind == "corpus":
        return CORPUS[name]
    return Path(workload_recording(int(kind.removeprefix("jdk")), name))


@functools.cache
def _read(path: Path) -> Recording:
    return read_recording(path, generic=("jdk.InitialSystemProperty", "jdk.JVMInformation"))


@functools.cache
def _json(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(print_json(path, TYPED))


def _theirs(path: Path, type_name: str) -> list[dict[str, Any]]:
    return values_of(list(_json(path)), type_name)


def _frames(stack: StackTrace | None) -> tuple[tuple[object, ...], ...] | None:
    if stack is None:
        return None
    return tuple(
        (f.class_name, f.method, f.descriptor, f.line, f.bytecode_index, f.kind)
        for f in stack.frames
    )


def _thread(value: dict[str, Any] | None) -> tuple[object, ...] | None:
    if value is None:
        return None
    return (value["javaName"] or value["osName"], value["javaThreadId"], value["osThreadId"])


def _ours_thread(thread: Any) -> tuple[object, ...] | None:
    return None if thread is None else (thread.name, thread.java_id, thread.os_id)


def _class(value: dict[str, Any] | None) -> str | None:
    return None if value is None else value["name"].replace("/", ".")


def test_event_counts_per_type_equal_jfr_summary(jfr_file: Path) -> None:
    recording = _read(jfr_file)

    assert recording.notes == ()
    assert dict(recording.counts) == summary_counts(jfr_file)
    assert len(recording.chunks) == summary_chunks(jfr_file)


def test_execution_and_native_samples_equal_jfr_print(jfr_file: Path) -> None:
    recording = _read(jfr_file)

    for type_name, ours in (
        ("jdk.ExecutionSample", recording.execution_samples),
        ("jdk.NativeMethodSample", recording.native_samples),
    ):
        theirs = sorted(
            (
                instant_ns(v["startTime"]),
                _thread(v["sampledThread"]),
                v["state"],
                json_frames(v["stackTrace"]),
            )
            for v in _theirs(jfr_file, type_name)
        )
        assert (
            sorted((s.start_ns, _ours_thread(s.thread), s.state, _frames(s.stack)) for s in ours)
            == theirs
        ), type_name


def _plain(name: str | None) -> str | None:
    """Class names to compare: arrays are `[B` in JFR and `byte[]` for us, so left out."""
    return None if name is None or name.startswith("[") or name.endswith("[]") else name


def test_allocation_weights_and_sites_equal_jfr_print(jfr_file: Path) -> None:
    recording = _read(jfr_file)

    theirs = sorted(
        (
            instant_ns(v["startTime"]),
            _thread(v["eventThread"]),
            v["weight"],
            json_frames(v["stackTrace"]),
            _plain(_class(v["objectClass"])),
        )
        for v in _theirs(jfr_file, "jdk.ObjectAllocationSample")
    )
    tlab_theirs = sorted(
        (
            instant_ns(v["startTime"]),
            v["allocationSize"],
            v.get("tlabSize"),
            _plain(_class(v["objectClass"])),
        )
        for t in ("jdk.ObjectAllocationInNewTLAB", "jdk.ObjectAllocationOutsideTLAB")
        for v in _theirs(jfr_file, t)
    )

    ours = sorted(
        (s.start_ns, _ours_thread(s.thread), s.weight, _frames(s.stack), _plain(s.object_class))
        for s in recording.allocation_samples
    )
    tlab_ours = sorted(
        (a.start_ns, a.allocation_size, a.tlab_size, _plain(a.object_class))
        for a in recording.tlab_allocations
    )
    assert ours == theirs
    assert tlab_ours == tlab_theirs


def test_lock_waits_equal_jfr_print(jfr_file: Path) -> None:
    recording = _read(jfr_file)

    monitors_theirs = sorted(
        (
            instant_ns(v["startTime"]),
            duration_ns(v["duration"]),
            _class(v["monitorClass"]),
            _thread(v["eventThread"]),
            _thread(v["previousOwner"]),
            v["address"],
            json_frames(v["stackTrace"]),
        )
        for v in _theirs(jfr_file, "jdk.JavaMonitorEnter")
    )
    parks_theirs = sorted(
        (
            instant_ns(v["startTime"]),
            duration_ns(v["duration"]),
            _class(v["parkedClass"]),
            None if v["timeout"] == NO_TIMEOUT else duration_ns(v["timeout"]),
            v["address"],
            json_frames(v["stackTrace"]),
        )
        for v in _theirs(jfr_file, "jdk.ThreadPark")
    )

    monitors_ours = sorted(
        (
            e.start_ns,
            e.duration_ns,
            e.monitor_class,
            _ours_thread(e.thread),
            _ours_thread(e.previous_owner),
            e.address,
            _frames(e.stack),
        )
        for e in recording.monitor_enters
    )
    parks_ours = sorted(
        (p.start_ns, p.duration_ns, p.parked_class, p.timeout_ns, p.address, _frames(p.stack))
        for p in recording.thread_parks
    )
    assert monitors_ours == monitors_theirs
    assert parks_ours == parks_theirs


def test_gc_pauses_and_cpu_load_equal_jfr_print(jfr_file: Path) -> None:
    recording = _read(jfr_file)

    gcs_theirs = sorted(
        (
            instant_ns(v["startTime"]),
            duration_ns(v["duration"]),
            v["gcId"],
            v["name"],
            v["cause"],
            duration_ns(v["sumOfPauses"]),
            duration_ns(v["longestPause"]),
        )
        for v in _theirs(jfr_file, "jdk.GarbageCollection")
    )
    phases_theirs = sorted(
        (instant_ns(v["startTime"]), duration_ns(v["duration"]), v["gcId"], v["name"])
        for v in _theirs(jfr_file, "jdk.GCPhasePause")
    )
    loads_theirs = sorted(
        (instant_ns(v["startTime"]), v["jvmUser"], v["jvmSystem"], v["machineTotal"])
        for v in _theirs(jfr_file, "jdk.CPULoad")
    )

    gcs_ours = sorted(
        (
            g.start_ns,
            g.duration_ns,
            g.gc_id,
            g.name,
            g.cause,
            g.sum_of_pauses_ns,
            g.longest_pause_ns,
        )
        for g in recording.garbage_collections
    )
    phases_ours = sorted(
        (p.start_ns, p.duration_ns, p.gc_id, p.name) for p in recording.gc_phase_pauses
    )
    loads_ours = sorted(
        (c.start_ns, c.jvm_user, c.jvm_system, c.machine_total) for c in recording.cpu_loads
    )
    assert gcs_ours == gcs_theirs
    assert phases_ours == phases_theirs
    assert len(loads_ours) == len(loads_theirs)
    for ours, theirs in zip(loads_ours, loads_theirs, strict=True):
        assert ours[0] == theirs[0]
        # JSON prints Java's shortest text for the float; we hold the float32 exactly.
        assert all(
            math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
            for a, b in zip(ours[1:], theirs[1:], strict=True)
        )


def test_allocating_workload_recording_has_gc_pauses_to_compare(workload_recording: Any) -> None:
    # Guards the GC comparison above against comparing two empty lists everywhere.
    path = Path(workload_recording(25, "alloc"))

    assert summary_counts(path)["jdk.GarbageCollection"] > 0
    assert _read(path).garbage_collections


def test_strings_beyond_latin1_read_back_as_set_on_the_command_line(
    workload_recording: Any, java_version: int
) -> None:
    recording = _read(Path(workload_recording(java_version, "cpu")))

    properties = {
        e.values["key"]: e.values["value"] for e in recording.events["jdk.InitialSystemProperty"]
    }
    (jvm,) = recording.events["jdk.JVMInformation"]
    assert properties["jdebug.greeting"] == GREETING
    assert f"-Djdebug.greeting={GREETING}" in jvm.values["jvmArguments"]
    assert properties["java.vm.specification.version"] == str(java_version)


def test_generic_events_equal_jfr_print_field_by_field(workload_recording: Any) -> None:
    path = Path(workload_recording(21, "cpu"))
    events = print_json(path, "jdk.InitialSystemProperty,jdk.JVMInformation")
    theirs = {v["key"]: v for v in values_of(events, "jdk.InitialSystemProperty")}
    (info,) = values_of(events, "jdk.JVMInformation")

    recording = _read(path)

    ours = {e.values["key"]: e for e in recording.events["jdk.InitialSystemProperty"]}
    (jvm,) = recording.events["jdk.JVMInformation"]
    assert set(ours) == set(theirs)
    for key, event in ours.items():
        assert event.values["value"] == theirs[key]["value"]
        assert event.start_ns == instant_ns(theirs[key]["startTime"])
    times = ("startTime", "jvmStartTime")
    assert jvm.values["jvmStartTime"] == instant_ns(info["jvmStartTime"])
    assert {k: v for k, v in jvm.values.items() if k not in times} == {
        k: v for k, v in info.items() if k not in times
    }


def test_every_flush_segments_constant_pool_resolves_stacks(workload_recording: Any) -> None:
    # JDK 14+ flush once a second: one chunk, many checkpoint events, each adding keys.
    path = Path(workload_recording(17, "lock"))
    checkpoints = summary_counts(path)["jdk.Checkpoint"]

    recording = _read(path)

    assert checkpoints > 3
    assert recording.monitor_enters
    assert all(e.stack is not None and e.stack.frames for e in recording.monitor_enters)
    assert all(e.thread is not None for e in (*recording.monitor_enters, *recording.thread_parks))


@pytest.fixture(scope="module")
def two_chunk_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-chunk file: starting a second recording makes the JVM rotate chunks."""
    classes = compile_workloads(tmp_path_factory.mktemp("classes"))
    path = tmp_path_factory.mktemp("chunks") / "two-chunks.jfr"
    proc = start_workload(25, "cpu", classes)
    try:
        jattach_text(proc.pid, "JFR.start name=first settings=profile")
        time.sleep(1.5)  # samples for the first chunk
        jattach_text(proc.pid, "JFR.start name=second")
        time.sleep(1.5)  # and for the second
        jattach_text(proc.pid, f"JFR.stop name=first filename={path}")
    finally:
        stop_workload(proc)
    return path


def test_a_file_of_several_chunks_is_read_chunk_by_chunk(two_chunk_recording: Path) -> None:
    events = print_json(two_chunk_recording, "jdk.ExecutionSample")
    theirs = sorted(
        (instant_ns(v["startTime"]), json_frames(v["stackTrace"]))
        for v in values_of(events, "jdk.ExecutionSample")
    )

    recording = read_recording(two_chunk_recording)

    assert summary_chunks(two_chunk_recording) == 2
    assert len(recording.chunks) == 2
    assert all(c.complete for c in recording.chunks)
    assert dict(recording.counts) == summary_counts(two_chunk_recording)
    assert sorted((s.start_ns, _frames(s.stack)) for s in recording.execution_samples) == theirs


def test_concatenated_recordings_read_as_one_file_of_their_chunks(tmp_path: Path) -> None:
    first, second = CORPUS["cpu-hotspot"], CORPUS["deadlock"]
    joined = tmp_path / "joined.jfr"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    # Not `jfr summary joined.jfr`: both chunks carry metadata id 1, so the JDK reads the
    # second with the first's type table and misnames its events. Each file's own summary
    # is right.
    expected = Counter(summary_counts(first)) + Counter(summary_counts(second))

    recording = read_recording(joined)

    assert len(recording.chunks) == summary_chunks(joined) == 2
    assert dict(recording.counts) == dict(expected)
    assert recording.notes == ()
    assert len(recording.execution_samples) == expected["jdk.ExecutionSample"]
