"""VM.version from real JVMs, checked against the JDK's own `release` file and `java -version`."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.version import parse_vm_version, summarise_version
from bot.model.request import Options
from tests.support.jvms import RunningJvm, jattach_text, jdk_home


def _release_version(major: int) -> str:
    """JAVA_VERSION from the JDK's `release` file, e.g. `25.0.2`."""
    text = (jdk_home(major) / "release").read_text()
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    assert match, text
    return match.group(1)


def _build_from_java_dash_version(major: int) -> str:
    """The VM build from `java -version`, e.g. `25.0.2+10-LTS`."""
    out = subprocess.run(
        [str(jdk_home(major) / "bin" / "java"), "-version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stderr
    match = re.search(r"Server VM .*\(build ([^,]+),", out)
    assert match, out
    return match.group(1)


def test_version_names_the_running_vm_and_its_major(
    cowweb_factory: Callable[..., RunningJvm], java_version: int
) -> None:
    jvm = cowweb_factory(java_version)
    text = jattach_text(jvm.pid, "VM.version")

    version = parse_vm_version(text)
    analysis = summarise_version([text], Options())

    assert version.major == java_version
    assert version.jdk_version == _release_version(java_version)
    assert version.vm_version == _build_from_java_dash_version(java_version)
    assert version.vm_name is not None and "Server VM" in version.vm_name
    assert analysis.headline == f"Java {java_version}: {version.vm_name} {version.vm_version}"
    assert analysis.notes == ()


@pytest.mark.parametrize(
    ("text", "major"),
    [
        # JDK 8 numbers its VM line with the HotSpot version, so only the JDK line counts.
        ("Java HotSpot(TM) 64-Bit Server VM version 25.292-b10\nJDK 8.0_292\n", 8),
        ("Java HotSpot(TM) 64-Bit Server VM version 25.292-b10\n", None),
        ("OpenJDK 64-Bit Server VM version 17.0.9+9\n", 17),
        ("OpenJDK 64-Bit Server VM version 1.8.0_292-b10\n", 8),
        ("JDK 21.0.8\n", 21),
    ],
    ids=["jdk8", "jdk8-vm-line-only", "vm-line-only", "old-style-version", "jdk-line-only"],
)
def test_major_version_comes_from_the_jdk_line_and_never_from_a_hotspot_number(
    text: str, major: int | None
) -> None:
    version = parse_vm_version(text)
    analysis = summarise_version([text], Options())

    assert version.major == major
    complete = " version " in text and "\nJDK " in "\n" + text
    assert bool(analysis.notes) != complete, "a missing line, and only that, must be noted"


def test_truncated_or_noisy_output_is_noted_never_raised(
    cowweb_factory: Callable[..., RunningJvm],
) -> None:
    jvm = cowweb_factory(25)
    text = jattach_text(jvm.pid, "VM.version")

    for cut in range(len(text) + 1):
        analysis = summarise_version([text[:cut]], Options())
        assert analysis.headline
        if cut < text.index("\nJDK"):
            assert analysis.notes, cut
    noisy = summarise_version(["12345:\n" + text], Options())
    assert noisy.headline.startswith("Java 25: ")
    assert noisy.notes == ("1 line(s) were not recognised, e.g. '12345:'.",)


def test_error_text_gives_a_note_not_an_exception() -> None:
    analysis = summarise_version(["java.lang.IllegalArgumentException: Unknown command"], Options())

    assert analysis.headline == "JVM version not found in the output"
    assert len(analysis.notes) == 2


@settings(max_examples=300)
@given(st.text())
def test_any_text_gives_an_analysis(text: str) -> None:
    assert summarise_version([text], Options()).headline
