"""Real JVMs running `tests/jvm/data/ProfileWorkloads.java`, and JFR recordings of them.

Each workload has one known answer: `cpu` burns in `ProfileWorkloads.burnCpu`, `alloc`
allocates `ProfileWorkloads$Payload` in `allocatePayloads`, `lock` contends on a
`ProfileWorkloads$ContendedLock` monitor. Recordings use `settings=profile`, as `profile` will.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.jvms import REPO, jattach_text, jdk_home

SOURCE = REPO / "tests" / "jvm" / "data" / "ProfileWorkloads.java"
WORKLOADS = ("cpu", "alloc", "lock")
RECORD_SECONDS = 4
# A system property each workload JVM gets, so recordings hold a string beyond Latin-1
# (JFR then writes UTF-8 or UTF-16 chars) next to plain ones.
GREETING = "Grüße, 🐄 und 牛"


def compile_workloads(out: Path) -> Path:
    """`javac --release 11` of the workloads into `out`, so JDK 11 runs them too."""
    javac = shutil.which("javac")
    assert javac, "javac is missing: run `make bootstrap`"
    subprocess.run(
        [javac, "--release", "11", "-d", str(out), str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def start_workload(
    version: int, workload: str, classes: Path, jvm_args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """The JVM (with `jvm_args` too), once it printed `workload NAME ready`."""
    java = jdk_home(version) / "bin" / "java"
    proc = subprocess.Popen(
        [
            str(java),
            "-Xmx64m",
            "-XX:+UseSerialGC",
            f"-Djdebug.greeting={GREETING}",
            *jvm_args,
            "-cp",
            str(classes),
            "ProfileWorkloads",
            workload,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while proc.stdout.readline() != f"workload {workload} ready\n".encode():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_workload(proc)
            raise RuntimeError(f"ProfileWorkloads {workload} did not start on JDK {version}")
    return proc


def stop_workload(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _record_seconds(version: int, workload: str) -> float:
    return 1.0 if (version, workload) == (11, "alloc") else RECORD_SECONDS


def record_workloads(
    version: int, classes: Path, out_dir: Path, workloads: Sequence[str] = WORKLOADS
) -> dict[str, Path]:
    """One `settings=profile` recording of each workload, all JVMs recorded at once.

    The recordings are stopped with `JFR.stop filename=`, which returns once the file is
    written; the JVMs are killed afterwards.
    """
    procs = {w: start_workload(version, w, classes) for w in workloads}
    paths = {w: out_dir / f"{w}-jdk{version}.jfr" for w in workloads}
    try:
        for proc in procs.values():
            jattach_text(proc.pid, "JFR.start name=jdebug-test settings=profile")
        # Samples need time to accumulate; what the tests assert is read from the files.
        # JDK 11 records every new TLAB of the allocating workload (with its stack): one
        # second of them is already tens of thousands of events, which `jfr print` takes
        # most of a minute to print for the tests' oracle.
        started = time.monotonic()
        for w in sorted(procs, key=lambda w: _record_seconds(version, w)):
            time.sleep(max(0.0, started + _record_seconds(version, w) - time.monotonic()))
            jattach_text(procs[w].pid, f"JFR.stop name=jdebug-test filename={paths[w]}")
    finally:
        for proc in procs.values():
            stop_workload(proc)
    return paths
