"""Parse `VM.flags` (one line of non-default flags) and `VM.flags -all` (the typed table).

The summary answers what people ask first: heap sizing, the collector, container awareness
and what happens on OutOfMemoryError. The one-line form lists only flags that differ from
their defaults and carries no origin, so what it does not show is reported as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.jvm.units import format_bytes
from bot.model.request import Options
from bot.model.results import Analysis

FlagValue = bool | int | float | str

_INT_TYPES = frozenset({"int", "uint", "intx", "uintx", "uint64_t", "size_t"})
_TABLE_TYPES = _INT_TYPES | {"bool", "double", "ccstr", "ccstrlist"}

# `     bool UseSerialGC    = true     {product} {command line}`; a ccstrlist's first line
# has no braces and its further values follow as `    Name += value {kind} {origin}`.
_ROW = re.compile(
    r"\s*(?P<type>[A-Za-z_]\w*)\s+(?P<name>[A-Za-z_]\w*)\s+=\s?(?P<value>.*?)"
    r"(?:\s*\{(?P<kind>[^{}]*)\}\s*\{(?P<origin>[^{}]*)\})?\s*"
)
_CONTINUATION = re.compile(
    r"\s*(?P<name>[A-Za-z_]\w*)\s+\+=\s?(?P<value>.*?)"
    r"(?:\s*\{(?P<kind>[^{}]*)\}\s*\{(?P<origin>[^{}]*)\})?\s*"
)
# Values in the one-line form are not quoted (`-XX:HeapDumpPath=/a b`), so a flag runs
# until the next ` -XX:`.
_ONE_LINE_SPLIT = re.compile(r"\s+(?=-XX:)")
_ONE_LINE_FLAG = re.compile(r"-XX:(?:(?P<sign>[+-])(?P<bool>\w+)|(?P<name>\w+)=(?P<value>.*))")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?\d+\.\d*(?:[eE][+-]?\d+)?")

# Flags whose values are byte counts, shown as `64 MiB`.
_BYTE_FLAGS = frozenset(
    {
        "InitialHeapSize",
        "MaxHeapSize",
        "MinHeapSize",
        "SoftMaxHeapSize",
        "NewSize",
        "MaxNewSize",
        "OldSize",
        "MaxMetaspaceSize",
        "MetaspaceSize",
        "CompressedClassSpaceSize",
        "MaxDirectMemorySize",
        "ReservedCodeCacheSize",
        "InitialCodeCacheSize",
        "MaxRAM",
        "G1HeapRegionSize",
        "LargePageSizeInBytes",
        "ErgoHeapSizeLimit",
    }
)
_KIB_FLAGS = frozenset({"ThreadStackSize", "CompilerThreadStackSize", "VMThreadStackSize"})

_COLLECTORS = (
    ("UseSerialGC", "Serial GC"),
    ("UseParallelGC", "Parallel GC"),
    ("UseG1GC", "G1 GC"),
    ("UseZGC", "ZGC"),
    ("UseShenandoahGC", "Shenandoah GC"),
    ("UseEpsilonGC", "Epsilon GC (no collection)"),
    ("UseConcMarkSweepGC", "CMS GC"),
)

# Worth a line when they differ from the default; the one-line form cannot say who set them.
_NOTABLE = (
    "ActiveProcessorCount",
    "InitialRAMPercentage",
    "MinRAMPercentage",
    "MaxMetaspaceSize",
    "MaxDirectMemorySize",
    "ThreadStackSize",
    "NativeMemoryTracking",
    "StartFlightRecording",
    "DisableExplicitGC",
    "ExplicitGCInvokesConcurrent",
    "MaxGCPauseMillis",
    "ParallelGCThreads",
    "ConcGCThreads",
    "UseStringDeduplication",
    "AlwaysPreTouch",
    "UseLargePages",
    "UseTransparentHugePages",
    "PerfDisableSharedMem",
    "UsePerfData",
    "OmitStackTraceInFastThrow",
    "NewRatio",
    "SurvivorRatio",
    "MaxTenuringThreshold",
    "ErrorFile",
    "DisableAttachMechanism",
)
_OOM_FLAGS = frozenset(
    {
        "HeapDumpOnOutOfMemoryError",
        "HeapDumpPath",
        "ExitOnOutOfMemoryError",
        "CrashOnOutOfMemoryError",
        "OnOutOfMemoryError",
    }
)


@dataclass(frozen=True)
class VmFlag:
    """One flag. `type`, `kind` and `origin` are only known from the `-all` table."""

    name: str
    value: FlagValue
    type: str | None = None
    kind: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class VmFlags:
    """The flags of one JVM by name; `table` is True when they came from `VM.flags -all`."""

    flags: Mapping[str, VmFlag] = field(default_factory=dict)
    table: bool = False
    unrecognised: tuple[str, ...] = ()

    def value(self, name: str) -> FlagValue | None:
        """The flag's value, or None when the output does not show it."""
        flag = self.flags.get(name)
        return None if flag is None else flag.value

    def values(self) -> dict[str, FlagValue]:
        """Name -> typed value for every flag shown."""
        return {name: flag.value for name, flag in self.flags.items()}


def _typed(value: str, flag_type: str | None) -> FlagValue:
    """Convert by the declared HotSpot type; without one, by the value's shape."""
    if flag_type == "bool" or (flag_type is None and value in ("true", "false")):
        if value in ("true", "false"):
            return value == "true"
        return value
    if flag_type in _INT_TYPES or (flag_type is None and _INT.fullmatch(value)):
        try:
            return int(value)
        except ValueError:
            return value
    if flag_type == "double" or (flag_type is None and _FLOAT.fullmatch(value)):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_vm_flags(text: str) -> VmFlags:
    """Parse either form of `VM.flags` output; lines not understood are kept, never raised."""
    flags: dict[str, VmFlag] = {}
    unrecognised: list[str] = []
    table = False

    def add_list_value(name: str, value: str, kind: str | None, origin: str | None) -> None:
        # HotSpot keeps repeated ccstrlist values joined by newlines; so do we.
        previous = flags.get(name)
        if previous is None or not isinstance(previous.value, str):
            flags[name] = VmFlag(name, value, "ccstrlist" if table else None, kind, origin)
            return
        joined = f"{previous.value}\n{value}" if previous.value else value
        flags[name] = VmFlag(
            name, joined, previous.type, kind or previous.kind, origin or previous.origin
        )

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "[Global flags]":
            table = True
            continue
        if line.startswith("-XX:"):
            for token in _ONE_LINE_SPLIT.split(line):
                match = _ONE_LINE_FLAG.fullmatch(token.strip())
                if match is None:
                    unrecognised.append(token)
                elif match.group("bool"):
                    name = match.group("bool")
                    flags[name] = VmFlag(name, match.group("sign") == "+")
                elif match.group("name") in flags:
                    add_list_value(match.group("name"), match.group("value"), None, None)
                else:
                    name = match.group("name")
                    flags[name] = VmFlag(name, _typed(match.group("value"), None))
            continue
        if (row := _ROW.fullmatch(raw)) and row.group("type") in _TABLE_TYPES:
            table = True
            flag_type, name = row.group("type"), row.group("name")
            flags[name] = VmFlag(
                name,
                _typed(row.group("value"), flag_type),
                flag_type,
                row.group("kind"),
                row.group("origin"),
            )
            continue
        if (more := _CONTINUATION.fullmatch(raw)) and more.group("name") in flags:
            add_list_value(
                more.group("name"), more.group("value"), more.group("kind"), more.group("origin")
            )
            continue
        unrecognised.append(line)
    return VmFlags(flags, table, tuple(unrecognised))


def _show(name: str, value: FlagValue) -> str:
    """`MaxHeapSize=64 MiB`, `UseG1GC=true`, `ThreadStackSize=1 MiB`, `OnOutOfMemoryError=…`."""
    if isinstance(value, bool):
        return f"{name}={'true' if value else 'false'}"
    if isinstance(value, int) and name in _BYTE_FLAGS:
        return f"{name}={format_bytes(value)}"
    if isinstance(value, int) and name in _KIB_FLAGS:
        return f"{name}={format_bytes(value * 1024)}"
    if isinstance(value, float):
        return f"{name}={value:g}"
    text = str(value).replace("\n", " | ")
    return f"{name}={text}"


def _is_set(flags: VmFlags, name: str) -> bool:
    """Shown and not at its default: everything in the one-line form, origin-checked in -all."""
    flag = flags.flags.get(name)
    if flag is None:
        return False
    return not flags.table or flag.origin not in (None, "default")


def _collector(flags: VmFlags) -> str | None:
    for name, label in _COLLECTORS:
        if flags.value(name) is True:
            if name == "UseZGC" and flags.value("ZGenerational") is True:
                return "generational ZGC"
            return label
    return None


def _headline(flags: VmFlags) -> str:
    parts: list[str] = []
    gc = _collector(flags)
    parts.append(gc or "collector not shown")

    initial, maximum = flags.value("InitialHeapSize"), flags.value("MaxHeapSize")
    sizes = []
    if isinstance(initial, int) and not isinstance(initial, bool):
        sizes.append(f"{format_bytes(initial)} initial")
    if isinstance(maximum, int) and not isinstance(maximum, bool):
        sizes.append(f"{format_bytes(maximum)} max")
    heap = "heap " + " / ".join(sizes) if sizes else "heap size not shown"
    percent = flags.value("MaxRAMPercentage")
    if isinstance(percent, float) and _is_set(flags, "MaxRAMPercentage"):
        heap += f" (MaxRAMPercentage {percent:g}%)"
    parts.append(heap)

    container = flags.value("UseContainerSupport")
    if container is True:
        parts.append("container support on")
    elif container is False:
        parts.append("container support off")
    elif not flags.table and flags.flags:
        parts.append("container support at its default (not listed)")
    return ", ".join(parts)


def _oom_findings(flags: VmFlags) -> list[str]:
    findings: list[str] = []
    dump = flags.value("HeapDumpOnOutOfMemoryError")
    if dump is True:
        path = flags.value("HeapDumpPath")
        where = f"to {path}" if path else "to java_pid<pid>.hprof in the working directory"
        findings.append(f"Heap dump on OutOfMemoryError: on, {where}")
    elif dump is False and flags.table:
        findings.append("Heap dump on OutOfMemoryError: off")
    for name, words in (
        ("ExitOnOutOfMemoryError", "exits"),
        ("CrashOnOutOfMemoryError", "crashes (hs_err + core)"),
    ):
        if flags.value(name) is True:
            findings.append(f"On OutOfMemoryError the JVM {words} ({name})")
    command = flags.value("OnOutOfMemoryError")
    if isinstance(command, str) and command:
        findings.append(f"On OutOfMemoryError it runs: {command.replace(chr(10), ' ; ')}")
    return findings


def _origin_findings(flags: VmFlags) -> list[str]:
    """In the -all table: who set what, grouped by origin (command line, environment...)."""
    groups: dict[str, list[str]] = {}
    for flag in flags.flags.values():
        if flag.origin and flag.origin not in ("default", "ergonomic"):
            groups.setdefault(flag.origin, []).append(_show(flag.name, flag.value))
    words = {
        "command line": "Set on the command line",
        "environment": "Set from the environment (JAVA_TOOL_OPTIONS or _JAVA_OPTIONS)",
        "config file": "Set from a flags file",
        "management": "Changed at runtime through management",
        "attach": "Changed at runtime through attach (jcmd VM.set_flag)",
    }
    return [
        f"{words.get(origin, f'Set by {origin}')}: {', '.join(shown)}"
        for origin, shown in groups.items()
    ]


def summarise_flags(texts: Sequence[str], options: Options) -> Analysis:
    """Headline: GC, heap sizing, container support; findings: OOM handling, notable flags."""
    notes: list[str] = []
    if len(texts) > 1:
        notes.append(f"{len(texts)} outputs were given; this summarises the first.")
    flags = parse_vm_flags(texts[0] if texts else "")
    if flags.unrecognised:
        notes.append(
            f"{len(flags.unrecognised)} part(s) were not recognised, "
            f"e.g. {flags.unrecognised[0][:80]!r}."
        )
    if not flags.flags:
        notes.append("No flags were recognised: is this VM.flags output?")
        return Analysis("No JVM flags found in the output", (), tuple(notes))
    if options.flag("all") and not flags.table:
        notes.append("`all` was asked for but the output is the short form.")

    findings = _oom_findings(flags)
    if flags.value("UseContainerSupport") is False:
        findings.append(
            "Container support is off: heap and CPU ergonomics see the host, not the pod's limits"
        )
    max_heap = flags.flags.get("MaxHeapSize")
    if (
        flags.table
        and max_heap is not None
        and max_heap.origin == "command line"
        and _is_set(flags, "MaxRAMPercentage")
    ):
        findings.append("MaxRAMPercentage has no effect: MaxHeapSize (-Xmx) is set explicitly")
    if flags.table:
        findings += _origin_findings(flags)
        findings.append(
            f"{len(flags.flags)} flags in total, "
            f"{sum(1 for f in flags.flags.values() if f.origin != 'default')} "
            "not at their defaults"
        )
    else:
        shown = [
            _show(n, v)
            for n in _NOTABLE
            if (v := flags.value(n)) is not None and n not in _OOM_FLAGS
        ]
        if shown:
            findings.append("Notable: " + ", ".join(shown))
        findings.append(
            f"{len(flags.flags)} flags differ from their defaults "
            "(set explicitly or by ergonomics); `flags all` shows every flag "
            "and who set it"
        )
    return Analysis(_headline(flags), tuple(findings), tuple(notes))
