"""`hot`, `gc`, `threaddump` with virtual threads and `profile`, end to end through the catalog
and the agent against real JVMs on this machine (the local strategy); the Kubernetes paths
are in tests/strategies/test_incident_strategies.py.

Expected answers come from what the test apps do: the burner's thread and method, the
churner's garbage, the parked virtual threads' count, the profiled workload's method.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot.commands.grammar import parse_command
from bot.local.strategy import LocalBackend
from bot.model.errors import AttachFailed
from bot.model.request import Request
from bot.model.results import Result
from bot.session.run import Progress, run_request
from tests.support.jvms import compile_test_app, jattach_text, running_test_app
from tests.support.profile_workloads import compile_workloads as compile_profile_workloads
from tests.support.profile_workloads import start_workload, stop_workload
from tests.support.workloads import BURNER, compile_workloads, running_workload

DATA = Path(__file__).parent / "data"


async def run(text: str, said: list[str] | None = None) -> Result:
    """`text` against a local JVM; the progress messages go into `said`."""
    request = parse_command(text)
    assert isinstance(request, Request)

    async def progress(event: Progress) -> None:
        if said is not None:
            said.append(event.message)

    return await run_request(request, LocalBackend(), progress=progress)


def leftovers() -> list[str]:
    """This machine's /tmp is the JVMs' /tmp here: jdebug's own files must all be gone."""
    return sorted(
        p.name for p in Path("/tmp").glob("jdebug-*.*") if p.suffix in (".jfr", ".jfc", ".json")
    )


@pytest.fixture(scope="module")
def gc_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_workloads(tmp_path_factory.mktemp("gc-workloads"))


@pytest.fixture(scope="module")
def profile_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_profile_workloads(tmp_path_factory.mktemp("profile-workloads"))


@pytest.mark.parametrize("version", [11, 17, 21, 25])
async def test_hot_names_the_burning_thread_first(gc_classes, tmp_path, version):
    with running_workload(version, gc_classes, "burn", tmp_path, ("-Xmx64m",)) as jvm:
        result = await run(f"hot pid={jvm.pid} interval=2s")
    assert BURNER in result.analysis.headline, result.analysis
    assert result.analysis.findings[0].startswith(BURNER) or BURNER in result.analysis.findings[0]
    # The thread dump between the samples is the raw output; the samples are not files.
    assert [s.name for s in result.raw.steps] == ["threaddump"]


@pytest.mark.parametrize("version", [11, 25])
async def test_gc_on_a_churning_jvm_reports_pressure(gc_classes, tmp_path, version):
    args = ("-Xmx32m", "-XX:+UseSerialGC")
    with running_workload(version, gc_classes, "churn", tmp_path, args) as jvm:
        result = await run(f"gc pid={jvm.pid} interval=3s")
    # 32 MiB of heap against GcWorkloads' churn: collections take much of the time.
    share = re.search(r"GC pauses take (\d+)% of the time", result.analysis.headline)
    assert share and int(share[1]) >= 20, result.analysis
    assert {s.name for s in result.raw.steps} == {"heap", "flags"}


@pytest.mark.parametrize("version", [21, 25])
async def test_threaddump_counts_virtual_threads_from_the_json_dump(tmp_path, version):
    classes = compile_test_app(DATA / "VirtualThreads.java", tmp_path)
    from tests.support.jvms import jdk_home

    argv = [
        str(jdk_home(version) / "bin" / "java"),
        "-Xmx64m",
        "-Djdk.virtualThreadScheduler.parallelism=6",
        "-cp",
        str(classes),
        "VirtualThreads",
        "40",
    ]
    with running_test_app(argv, b"virtual threads ready") as pid:
        result = await run(f"threaddump pid={pid}")
    assert "44 virtual threads" in result.analysis.headline, result.analysis
    assert "awaitStock" in " ".join(result.analysis.findings)
    assert [s.name for s in result.raw.steps] == ["threaddump"]
    # The JSON, the only listing of the virtual threads, goes into the thread too.
    (listing,) = result.analysis.attachments
    assert listing.name == "threads.json" and b'"threadDump"' in listing.data
    assert leftovers() == []


async def test_threaddump_on_jdk11_has_no_json_step_failure(cowweb_factory):
    jvm = cowweb_factory(11)
    result = await run(f"threaddump pid={jvm.pid}")
    assert "threads" in result.analysis.headline
    assert [s.name for s in result.raw.steps] == ["threaddump"]
    assert not any("JSON" in n for n in result.analysis.notes)


@pytest.fixture
def workload(profile_classes) -> Iterator[object]:
    started = []

    def start(version: int, name: str):  # type: ignore[no-untyped-def]
        proc = start_workload(version, name, profile_classes)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop_workload(proc)


@pytest.mark.parametrize(
    ("version", "event", "expected"),
    [
        (11, "cpu", "burnCpu"),
        (17, "cpu", "burnCpu"),
        (21, "cpu", "burnCpu"),
        (25, "cpu", "burnCpu"),
        (25, "alloc", "allocatePayloads"),
        (17, "alloc", "allocatePayloads"),
        (25, "lock", "ContendedLock"),
        (11, "lock", "ContendedLock"),
    ],
)
async def test_profile_puts_the_known_method_first_and_leaves_nothing(
    workload, version, event, expected
):
    proc = workload(version, {"cpu": "cpu", "alloc": "alloc", "lock": "lock"}[event])
    result = await run(f"profile pid={proc.pid} duration=5s event={event}")
    analysis = result.analysis
    assert expected in analysis.headline, analysis
    names = {a.name for a in analysis.attachments}
    assert {"flame.png", "collapsed.txt"} <= names and any(n.endswith(".jfr") for n in names)
    png = next(a for a in analysis.attachments if a.name == "flame.png")
    assert Image.open(io.BytesIO(png.data)).size[0] == 640
    assert leftovers() == []
    assert "jdebug-" not in jattach_text(proc.pid, "JFR.check")


async def test_a_second_profile_of_the_same_jvm_is_refused_while_ours_records(workload):
    import asyncio

    proc = workload(25, "cpu")
    said: list[str] = []
    first = asyncio.create_task(run(f"profile pid={proc.pid} duration=8s", said))
    for _ in range(100):  # until the first one's recording is running
        if "name=jdebug-" in jattach_text(proc.pid, "JFR.check"):
            break
        await asyncio.sleep(0.1)
    with pytest.raises(AttachFailed) as refused:
        await run(f"profile pid={proc.pid} duration=5s")
    assert "already recording this JVM" in refused.value.message
    assert (await first).analysis.findings
    assert leftovers() == []
    # While it records, the progress counts down what is left of its 8 s.
    left = [int(m[1]) for m in map(re.compile(r": about (\d+) s left$").search, said) if m]
    assert left and all(1 <= n < 8 for n in left), said


@pytest.mark.parametrize("version", [11, 25])
async def test_profile_of_a_jvm_without_jfr_says_so_in_one_sentence(profile_classes, version):
    proc = start_workload(version, "cpu", profile_classes, ("-XX:-FlightRecorder",))
    try:
        with pytest.raises(AttachFailed) as refused:
            await run(f"profile pid={proc.pid} duration=5s")
    finally:
        stop_workload(proc)
    assert "JFR is disabled in this JVM (-XX:-FlightRecorder)" in refused.value.message
    assert "/tmp" not in refused.value.message
    assert "\n" not in refused.value.message
    assert leftovers() == []


async def test_profile_removes_a_recording_an_earlier_crash_left_and_no_fresh_one(workload):
    proc = workload(25, "cpu")
    # This machine's /tmp is the JVM's: one file a crashed run left an hour ago, and one
    # another run (of another JVM sharing the /tmp) has just written.
    crashed, fresh = Path("/tmp/jdebug-0c7a5bed0001.jfr"), Path("/tmp/jdebug-0c7a5bed0002.jfr")
    for path in (crashed, fresh):
        path.write_bytes(b"FLR\0")
    hour_ago = time.time() - 3600
    os.utime(crashed, (hour_ago, hour_ago))
    try:
        result = await run(f"profile pid={proc.pid} duration=5s")
        assert "burnCpu" in result.analysis.headline
        assert not crashed.exists()
        assert fresh.exists()
    finally:
        crashed.unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)
    assert leftovers() == []
