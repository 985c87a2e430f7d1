"""Parse `VM.version`: the VM's name, its version string, and the Java feature release.

HotSpot prints `<VM name> version <version>` and then `JDK <version>`; the major number comes
from the `JDK` line because JDK 8's VM line carries the HotSpot number (`25.292-b10`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model.request import Options
from bot.model.results import Analysis

_VM_LINE = re.compile(r"(?P<name>.+?) version (?P<version>\S+)\s*")
_JDK_LINE = re.compile(r"JDK (?P<version>\S+)\s*")
_LEADING_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?")
# JDK 8 and older number HotSpot separately: `25.292-b10`, not a Java version.
_OLD_HOTSPOT = re.compile(r"\d+\.\d+-b\d+")


def _major(version: str) -> int | None:
    """`25.0.3` -> 25, `8.0_292` -> 8, `1.8.0_292` -> 8, `26-ea` -> 26."""
    match = _LEADING_NUMBER.match(version)
    if match is None:
        return None
    first = int(match.group(1))
    if first == 1 and match.group(2) is not None:
        return int(match.group(2))
    return first


@dataclass(frozen=True)
class VmVersion:
    """What `VM.version` says; any part may be None when its line is missing."""

    vm_name: str | None
    vm_version: str | None
    jdk_version: str | None
    major: int | None
    unrecognised: tuple[str, ...] = ()


def parse_vm_version(text: str) -> VmVersion:
    """Parse `VM.version` output; never raises."""
    vm_name = vm_version = jdk_version = None
    unrecognised: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if (jdk := _JDK_LINE.fullmatch(line)) and jdk_version is None:
            jdk_version = jdk.group("version")
        elif (vm := _VM_LINE.fullmatch(line)) and vm_name is None:
            vm_name, vm_version = vm.group("name"), vm.group("version")
        else:
            unrecognised.append(line)
    major = _major(jdk_version) if jdk_version else None
    if major is None and vm_version and not _OLD_HOTSPOT.fullmatch(vm_version):
        major = _major(vm_version)
    return VmVersion(vm_name, vm_version, jdk_version, major, tuple(unrecognised))


def summarise_version(texts: Sequence[str], options: Options) -> Analysis:
    """Headline: VM name and version, and the Java feature release."""
    notes: list[str] = []
    if len(texts) > 1:
        notes.append(f"{len(texts)} outputs were given; this summarises the first.")
    version = parse_vm_version(texts[0] if texts else "")
    if version.unrecognised:
        notes.append(
            f"{len(version.unrecognised)} line(s) were not recognised, "
            f"e.g. {version.unrecognised[0][:80]!r}."
        )
    if version.vm_name is None and version.jdk_version is None:
        notes.append("No version line was recognised: is this VM.version output?")
        return Analysis("JVM version not found in the output", (), tuple(notes))

    java = f"Java {version.major}" if version.major is not None else "Java version unknown"
    if version.vm_name and version.vm_version:
        headline = f"{java}: {version.vm_name} {version.vm_version}"
    else:
        headline = f"{java} (JDK {version.jdk_version})"
    findings: list[str] = []
    if version.jdk_version:
        findings.append(f"JDK {version.jdk_version}")
    if version.vm_name is None:
        notes.append("The VM name line is missing.")
    if version.jdk_version is None:
        notes.append("The `JDK` line is missing; the major version comes from the VM line.")
    return Analysis(headline, tuple(findings), tuple(notes))
