"""A JVM's jvmstat performance counters (`sun.gc.*`, `sun.os.hrt.*`, ...), from either source.

`jcmd PID PerfCounter.print` prints them as `name=value` lines; it is jcmd's own feature
(it maps the JVM's hsperfdata file), so jattach cannot run it. `task_perfdata.sh` sends
that file itself as hex instead, read here by its layout in HotSpot's
`src/hotspot/share/runtime/perfMemory.hpp` (PerfDataPrologue, PerfDataEntry). Parsing
never raises; a sample with no counters carries one sentence in `problem`.
"""

from __future__ import annotations

import contextlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib.resources import files

PERFDATA_SCRIPT: str = files("bot.jvm").joinpath("task_perfdata.sh").read_text(encoding="utf-8")

CounterValue = int | str

_MAGIC = b"\xca\xfe\xc0\xc0"
_PROLOGUE = 32  # magic, byte order, versions, accessible, used, overflow, mod time, offset, count
_ENTRY_HEADER = 20  # length, name offset, vector length, type, flags, units, variability, offset
_U_STRING = 5  # perfData.hpp: PerfData::U_String
_MAX_ENTRIES = 100_000
_LINE = re.compile(r"(?P<name>[A-Za-z_][\w.$-]*)=(?P<value>.*)")
_JCMD_PID_LINE = re.compile(r"\d{1,10}:")
_SNIPPET_HEADER = re.compile(r"jdebug-perfdata 1 pid=(\d{1,10}) nspid=(\d{1,10})")
_HEX_LINE = re.compile(r"(?:[0-9a-f]{2} ?)+")


class Unavailable(Enum):
    """Why a sample holds no counters; `gc` turns this into its one sentence."""

    NO_COUNTERS = "no counters"  # no hsperfdata: -XX:-UsePerfData or +PerfDisableSharedMem
    JATTACH = "jattach"  # PerfCounter.print sent to the JVM, which does not know it
    UNREADABLE = "unreadable"  # text that is neither form


@dataclass(frozen=True)
class PerfCounters:
    """Counter name -> value at one moment; `uptime_s` is the sampler's clock, if it sent one."""

    values: Mapping[str, CounterValue] = field(default_factory=dict)
    uptime_s: float | None = None
    unavailable: Unavailable | None = None
    problem: str | None = None
    notes: tuple[str, ...] = ()

    def number(self, name: str) -> int | None:
        value = self.values.get(name)
        return value if isinstance(value, int) else None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    @property
    def clock_s(self) -> float | None:
        """When the sample was taken, in seconds: the JVM's high-resolution clock
        (`sun.os.hrt.ticks`, gone in JDK 25), else the sampler's uptime."""
        ticks, frequency = self.number("sun.os.hrt.ticks"), self.number("sun.os.hrt.frequency")
        if ticks is not None and frequency:
            return ticks / frequency
        return self.uptime_s

    def seconds(self, name: str) -> float | None:
        """A tick counter (e.g. `sun.gc.collector.0.time`) in seconds."""
        ticks, frequency = self.number(name), self.number("sun.os.hrt.frequency")
        if ticks is None or not frequency:
            return None
        return ticks / frequency


def _unavailable(kind: Unavailable, problem: str) -> PerfCounters:
    return PerfCounters(unavailable=kind, problem=problem)


def _text_value(raw: str) -> CounterValue:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    if raw.lstrip("-").isdigit() and len(raw) <= 20:
        return int(raw)
    return raw


def parse_perf_counter_print(text: str) -> PerfCounters:
    """`jcmd PID PerfCounter.print` output; jcmd's `PID:` first line is skipped."""
    values: dict[str, CounterValue] = {}
    unrecognised: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _JCMD_PID_LINE.fullmatch(line):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            unrecognised.append(line)
        else:
            values[match.group("name")] = _text_value(match.group("value"))
    if values:
        notes: tuple[str, ...] = ()
        if unrecognised:
            notes = (
                f"{len(unrecognised)} line(s) of the counters were not understood, "
                f"e.g. {unrecognised[0][:60]!r}.",
            )
        return PerfCounters(values, notes=notes)
    if "Unknown diagnostic command" in text:
        return _unavailable(
            Unavailable.JATTACH,
            "PerfCounter.print is jcmd's own feature, not a command the JVM answers, so it "
            "cannot go through jattach; read the JVM's hsperfdata file (task_perfdata.sh) instead.",
        )
    if "Could not map vmid to user Name" in text or "MonitorException" in text:
        return _unavailable(
            Unavailable.NO_COUNTERS,
            "jcmd found no performance counters for this JVM.",
        )
    what = "it is empty" if not text.strip() else f"it starts with {text.strip()[:40]!r}"
    return _unavailable(Unavailable.UNREADABLE, f"This is not PerfCounter.print output ({what}).")


def parse_hsperfdata(data: bytes) -> PerfCounters:
    """The bytes of an `hsperfdata_<user>/<pid>` file (or its used part)."""
    if len(data) < _PROLOGUE or data[:4] != _MAGIC:
        return _unavailable(
            Unavailable.UNREADABLE,
            "This is not a JVM's hsperfdata file (it does not start with 0xcafec0c0).",
        )
    order = "<" if data[4] == 1 else ">"
    major, accessible = data[5], data[7]
    if major != 2:
        return _unavailable(
            Unavailable.UNREADABLE,
            f"The hsperfdata file has layout version {major}; jdebug reads version 2 "
            "(JDK 6 to 25).",
        )
    _, _, _, entry_offset, count = struct.unpack_from(order + "iiqii", data, 8)
    values: dict[str, CounterValue] = {}
    offset = entry_offset
    truncated = False
    for _ in range(min(max(count, 0), _MAX_ENTRIES)):
        if offset < _PROLOGUE or offset + _ENTRY_HEADER > len(data):
            truncated = True
            break
        length, name_at, vector, kind, _flags, units, _var, data_at = struct.unpack_from(
            order + "iiibbbbi", data, offset
        )
        if length <= 0:
            truncated = True
            break
        end = offset + length
        name_end = data.find(b"\0", offset + name_at, end)
        if end > len(data) or name_end < 0:
            truncated = True
            break
        name = data[offset + name_at : name_end].decode("ascii", "replace")
        start = offset + data_at
        if vector == 0 and kind == ord("J") and start + 8 <= end:
            values[name] = struct.unpack_from(order + "q", data, start)[0]
        elif vector > 0 and kind == ord("B") and units == _U_STRING:
            raw = data[start : min(start + vector, end)]
            values[name] = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        offset = end
    notes: list[str] = []
    if not accessible:
        notes.append("The JVM had not finished setting up its counters (it may be starting).")
    if truncated:
        notes.append(f"The hsperfdata file was cut short: {len(values)} of {count} counters read.")
    return PerfCounters(values, notes=tuple(notes))


def parse_perfdata_sample(text: str) -> PerfCounters:
    """One output of `task_perfdata.sh`; falls back to PerfCounter.print text."""
    lines = text.splitlines()
    if not lines or not _SNIPPET_HEADER.fullmatch(lines[0].strip()):
        first = lines[0].strip() if lines else ""
        if first.startswith("error ") and first[6:8].strip().isdigit():
            message = first.split(" ", 2)[-1]
            return _unavailable(Unavailable.UNREADABLE, message[:1].upper() + message[1:] + ".")
        return parse_perf_counter_print(text)
    uptime: float | None = None
    hex_parts: list[str] = []
    missing = False
    ended = False
    for raw in lines[1:]:
        line = raw.strip()
        if line.startswith("uptime "):
            with contextlib.suppress(IndexError, ValueError):
                uptime = float(line.split()[1])
        elif line.startswith("missing "):
            missing = True
        elif line == "end":
            ended = True
        elif _HEX_LINE.fullmatch(line):
            hex_parts.append(line)
    if missing:
        return _unavailable(Unavailable.NO_COUNTERS, "The JVM has no hsperfdata file in its /tmp.")
    counters = parse_hsperfdata(bytes.fromhex(" ".join(hex_parts)))
    notes = counters.notes if ended else (*counters.notes, "The perf-data sample was cut short.")
    return PerfCounters(
        counters.values, uptime, counters.unavailable, counters.problem, tuple(notes)
    )
