"""The agent's JVM list (one tab-separated line per JVM, read from /proc) and its summary.

We list JVMs from /proc rather than with `jps`: before JDK 19 jps skips a target /tmp whose
inode equals its own (JDK-8284330), and `-XX:-UsePerfData` hides a JVM from it entirely.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model.request import Options
from bot.model.results import Analysis

# java launcher options that take a separate value (so the value is not the main class).
_OPTIONS_WITH_VALUE = frozenset(
    {
        "-cp",
        "-classpath",
        "--class-path",
        "-p",
        "--module-path",
        "--upgrade-module-path",
        "--add-modules",
        "--limit-modules",
        "--add-opens",
        "--add-exports",
        "--add-reads",
        "--patch-module",
        "--enable-native-access",
    }
)


@dataclass(frozen=True)
class JvmInfo:
    """One JVM as the agent saw it; `pid` is in the agent's PID namespace."""

    pid: int
    uid: int
    gid: int
    nspid: int
    command_line: str
    main: str
    args: tuple[str, ...]

    def describe(self) -> str:
        return f"pid {self.pid} {self.main} (uid {self.uid})"


def split_java_command(command_line: str) -> tuple[str, tuple[str, ...]]:
    """The main class, jar (basename) or module of a java command line, and its arguments.

    The agent joins argv with spaces, so arguments with spaces are split; that only
    affects how arguments are shown, not which JVM is picked.
    """
    tokens = command_line.split()
    i = 1
    while i < len(tokens):
        word = tokens[i]
        if word in ("-jar", "-m", "--module") and i + 1 < len(tokens):
            main = tokens[i + 1]
            return (posixpath.basename(main) if word == "-jar" else main), tuple(tokens[i + 2 :])
        if word in _OPTIONS_WITH_VALUE:
            i += 2
            continue
        if not word.startswith("-"):
            return word, tuple(tokens[i + 1 :])
        i += 1
    return (posixpath.basename(tokens[0]) if tokens else "?"), ()


def parse_jvm_lines(text: str) -> tuple[JvmInfo, ...]:
    """Parse `pid<TAB>uid<TAB>gid<TAB>nspid<TAB>command line` lines; skip malformed ones."""
    jvms: list[JvmInfo] = []
    for line in text.splitlines():
        parts = line.split("\t", 4)
        if len(parts) != 5 or not all(p.isdigit() for p in parts[:4]):
            continue
        command_line = parts[4].strip()
        main, args = split_java_command(command_line)
        jvms.append(
            JvmInfo(
                int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), command_line, main, args
            )
        )
    return tuple(jvms)


def summarise_jvm_list(texts: Sequence[str], options: Options) -> Analysis:
    """`jps`: one finding per JVM, like `jps -l` but with the uid the debug side must use."""
    del options
    text = texts[0] if texts else ""
    jvms = parse_jvm_lines(text)
    unrecognised = sum(1 for ln in text.splitlines() if ln.strip()) - len(jvms)
    notes = (f"{unrecognised} line(s) of the JVM list were not recognised",) if unrecognised else ()
    if not jvms:
        return Analysis("no JVM is running in the target", (), notes)
    findings = tuple(
        f"pid {j.pid}  {j.main}  uid {j.uid} gid {j.gid}"
        + (f"  args: {' '.join(j.args)[:200]}" if j.args else "")
        for j in jvms
    )
    noun = "JVM" if len(jvms) == 1 else "JVMs"
    return Analysis(
        f"{len(jvms)} {noun}: " + ", ".join(f"{j.main} (pid {j.pid})" for j in jvms),
        findings,
        notes,
    )
