"""Run a JDK's own `jcmd` against a test JVM, as a user at the terminal would.

Analyser tests read what jcmd prints, `<pid>:` line included, from the same JDK as the JVM:
the output formats differ between JDK 11, 17, 21 and 25.
"""

from __future__ import annotations

import subprocess

from tests.support.jvms import jdk_home


def jcmd_text(version: int, pid: int, *command: str, timeout: float = 60) -> str:
    """stdout of `~/.cache/jdebug/jdk/<version>/bin/jcmd PID COMMAND...`; fails the test
    with jcmd's own words if it exits non-zero."""
    done = subprocess.run(
        [str(jdk_home(version) / "bin" / "jcmd"), str(pid), *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"jcmd {' '.join(command)}: {done.stdout}{done.stderr}"
    return done.stdout
