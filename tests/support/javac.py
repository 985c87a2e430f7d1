"""Compile a test's own Java program with the machine's javac, for every JDK under test.

The JDKs in ~/.cache/jdebug have no javac; Debian's JDK 17 compiles `--release 11` classes
that JDK 11, 17, 21 and 25 all run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def compile_for_jdk11(source: Path, out: Path) -> Path:
    """`javac --release 11 -d out source`; returns `out`, the class path to run it from."""
    javac = shutil.which("javac")
    assert javac, "javac is missing: run `make bootstrap`"
    subprocess.run(
        [javac, "--release", "11", "-d", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out
