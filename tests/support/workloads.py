"""GcWorkloads (tests/jvm/data/GcWorkloads.java) on a real JVM, and the snippets run against it.

The app burns CPU in one named thread, churns garbage in a small heap, or idles; it says
so on stdout (`ready MODE`, `live BYTES`, `churned N`), which is where the tests take
their expected values from.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.jvms import find_descendant_java, jdk_home
from tests.support.polling import wait_for

DATA = Path(__file__).resolve().parents[1] / "jvm" / "data"
BURNER = "jdebug-burner"
BURN_METHOD = "GcWorkloads.burnCpu"
CHURNER = "jdebug-churner"
# One churn step allocates a byte[4096] and eight byte[512]; with HotSpot's 16-byte array
# header (8 mark + 4 class + 4 length) that is 4112 + 8 * 528 bytes.
CHURN_STEP_BYTES = 4112 + 8 * 528

# Every collector each JDK here has, as (JVM flags, heap): JDK 11 keeps ZGC and Shenandoah
# experimental; ZGC on JDK 11 needs more than 64 MiB for the churn's live set.
_UNLOCK = ("-XX:+UnlockExperimentalVMOptions",)
COLLECTOR_FLAGS: dict[str, tuple[str, ...]] = {
    "serial": ("-XX:+UseSerialGC",),
    "parallel": ("-XX:+UseParallelGC",),
    "g1": ("-XX:+UseG1GC",),
    "zgc": ("-XX:+UseZGC",),
    "zgen": ("-XX:+UseZGC", "-XX:+ZGenerational"),
    "shenandoah": ("-XX:+UseShenandoahGC",),
}
COLLECTORS_BY_JDK: dict[int, tuple[str, ...]] = {
    11: ("serial", "parallel", "g1", "zgc", "shenandoah"),
    17: ("serial", "parallel", "g1", "zgc", "shenandoah"),
    21: ("serial", "parallel", "g1", "zgc", "zgen", "shenandoah"),
    25: ("serial", "parallel", "g1", "zgc", "shenandoah"),
}
JDK_COLLECTORS = [(v, gc) for v, gcs in COLLECTORS_BY_JDK.items() for gc in gcs]


def collector_args(version: int, gc: str) -> tuple[str, ...]:
    unlock = _UNLOCK if version == 11 and gc in ("zgc", "shenandoah") else ()
    heap = "-Xmx128m" if gc in ("zgc", "zgen") else "-Xmx64m"
    return (heap, *unlock, *COLLECTOR_FLAGS[gc])


def compile_workloads(out: Path) -> Path:
    javac = shutil.which("javac")
    assert javac, "javac is missing: run `make bootstrap`"
    subprocess.run(
        [javac, "--release", "11", "-d", str(out), str(DATA / "GcWorkloads.java")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@dataclass
class Workload:
    """A started GcWorkloads; `pid` is the java process as this test sees it."""

    version: int
    mode: str
    proc: subprocess.Popen[bytes]
    pid: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def churned(self) -> int:
        """The app's latest `churned N` line (the first comes within 100 ms of `ready`)."""
        counts = wait_for(
            lambda: re.findall(r"^churned (\d+)$", self.log(), re.MULTILINE),
            timeout=10,
            what="the app's first churn report",
        )
        return int(counts[-1])

    def live_bytes(self) -> int:
        match = re.search(r"^live (\d+)$", self.log(), re.MULTILINE)
        assert match, f"the app did not report its live set: {self.log()[-500:]}"
        return int(match.group(1))


@contextlib.contextmanager
def running_workload(
    version: int,
    classes: Path,
    mode: str,
    log_dir: Path,
    jvm_args: tuple[str, ...] = (),
    wrapper: tuple[str, ...] = (),
) -> Iterator[Workload]:
    """GcWorkloads MODE, once it printed `ready MODE`; stopped when the block ends."""
    java = jdk_home(version) / "bin" / "java"
    log_path = log_dir / f"workload-{version}-{mode}-{time.monotonic_ns()}.log"
    argv = [*wrapper, str(java), *jvm_args, "-cp", str(classes), "GcWorkloads", mode]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while f"ready {mode}" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log_path.read_text(errors="replace")
                raise RuntimeError(f"GcWorkloads {mode} did not start on JDK {version}: {text}")
            time.sleep(0.05)
        pid = proc.pid if not wrapper else find_descendant_java(proc.pid)
        yield Workload(version, mode, proc, pid, log_path)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def run_snippet(
    script: str, pid: int | str, shell: tuple[str, ...] = ("sh",)
) -> subprocess.CompletedProcess[str]:
    """Run a fixed snippet as its agent step would: `sh -c SCRIPT name PID`."""
    return subprocess.run(
        [*shell, "-c", script, "jdebug-step", str(pid)],
        capture_output=True,
        text=True,
        timeout=60,
    )
