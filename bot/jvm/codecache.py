"""Parse and summarise `Compiler.codecache`: used against size per code heap, and whether
the JIT compiler still runs.

A full code cache makes HotSpot stop compiling, so new hot code runs interpreted: a real
outage that looks like a slow app. The summary says so first, in the JVM's own words, read
from HotSpot's `CodeCache::print_summary` and `report_codemem_full` (openjdk/jdk,
src/hotspot/share/code/codeCache.cpp).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bot.jvm.jcmd_output import content_lines, unrecognised_note
from bot.jvm.units import format_bytes
from bot.model.results import Analysis

KiB = 1 << 10

# `CodeHeap 'profiled nmethods': size=120032Kb used=257Kb max_used=257Kb free=119774Kb`, or
# `CodeCache: size=...` for an unsegmented cache (and, from JDK 21, for the total of a
# segmented one); JDK 21 separates the fields with commas.
_HEAP = re.compile(
    r"(?:CodeHeap '(?P<name>[^']*)'|(?P<whole>CodeCache)):\s+size=(?P<size>\d+)Kb,?\s+"
    r"used=(?P<used>\d+)Kb,?\s+max_used=(?P<max_used>\d+)Kb,?\s+free=(?P<free>\d+)Kb"
)
_BOUNDS = re.compile(r"bounds \[[^\]]*\]")
# JDK 11/17: ` compilation: enabled`; JDK 21+: `Compilation: enabled, stopped_count=0, ...`.
_COMPILATION = re.compile(r"[Cc]ompilation: (?P<state>[^,]*?)(?P<rest>,.*)?")
_COUNTS = re.compile(r"(?P<key>\w+)=(?P<value>\d+)")
_COUNT_KEYS = frozenset(
    {"total_blobs", "nmethods", "adapters", "full_count", "stopped_count", "restarted_count"}
)

# CodeCache::print_summary's words for a compiler stopped because the cache is full.
FULL_STATE = "disabled (not enough contiguous free space left)"
INTERPRETER_STATE = "disabled (interpreter mode)"
_WARN_SHARE = 0.9
_PEAK_SHOWN_SHARE = 0.01


@dataclass(frozen=True)
class CodeHeap:
    """One code heap line: a segment (`profiled nmethods`...) or the whole `CodeCache`."""

    name: str
    size_bytes: int
    used_bytes: int
    max_used_bytes: int
    free_bytes: int

    @property
    def used_share(self) -> float:
        return self.used_bytes / self.size_bytes if self.size_bytes else 0.0

    @property
    def peak_share(self) -> float:
        return self.max_used_bytes / self.size_bytes if self.size_bytes else 0.0


@dataclass(frozen=True)
class CodeCacheState:
    """Everything recognised in one `Compiler.codecache` output.

    `heaps` are the segments of a segmented cache, or the one `CodeCache` of an unsegmented
    one; `total` is JDK 21+'s extra `CodeCache:` line summing the segments.
    """

    heaps: tuple[CodeHeap, ...]
    total: CodeHeap | None
    compilation: str | None
    counts: Mapping[str, int]
    unrecognised: tuple[str, ...] = ()

    @property
    def segmented(self) -> bool:
        return any(h.name != "CodeCache" for h in self.heaps)

    def count(self, key: str) -> int | None:
        return self.counts.get(key)


def parse_codecache(text: str) -> CodeCacheState:
    """Parse `Compiler.codecache` of any JDK 11+ HotSpot; never raises."""
    heaps: list[CodeHeap] = []
    whole: CodeHeap | None = None
    compilation: str | None = None
    counts: dict[str, int] = {}
    unrecognised: list[str] = []

    for line in content_lines(text):
        if match := _HEAP.fullmatch(line):
            heap = CodeHeap(
                match.group("name") or "CodeCache",
                *(int(match.group(g)) * KiB for g in ("size", "used", "max_used", "free")),
            )
            if match.group("whole"):
                whole = heap
            else:
                heaps.append(heap)
            continue
        if _BOUNDS.fullmatch(line):
            continue
        rest = line
        if match := _COMPILATION.fullmatch(line):
            compilation = match.group("state").strip()
            rest = match.group("rest") or ""
        pairs = _COUNTS.findall(rest)
        leftover = _COUNTS.sub("", rest).replace(",", "").strip()
        if leftover or (rest and not pairs) or any(k not in _COUNT_KEYS for k, _ in pairs):
            unrecognised.append(line)
            continue
        counts.update((key, int(value)) for key, value in pairs)

    frozen_counts = MappingProxyType(counts)
    if heaps:
        return CodeCacheState(tuple(heaps), whole, compilation, frozen_counts, tuple(unrecognised))
    single = (whole,) if whole is not None else ()
    return CodeCacheState(single, None, compilation, frozen_counts, tuple(unrecognised))


def _percent(share: float) -> int:
    """Whole percent, rounded down: 100% means not one KiB is free."""
    return int(share * 100)


# CodeCache::get_code_heap_flag_name: the flag the JVM's warning names for each segment.
_SEGMENT_FLAGS = {
    "non-nmethods": "NonNMethodCodeHeapSize",
    "profiled nmethods": "ProfiledCodeHeapSize",
    "non-profiled nmethods": "NonProfiledCodeHeapSize",
}


def _heap_line(heap: CodeHeap) -> str:
    line = (
        f"{heap.name}: {format_bytes(heap.used_bytes)} used of "
        f"{format_bytes(heap.size_bytes)} ({_percent(heap.used_share)}%)"
    )
    if heap.max_used_bytes - heap.used_bytes >= heap.size_bytes * _PEAK_SHOWN_SHARE:
        line += f", peak {format_bytes(heap.max_used_bytes)} ({_percent(heap.peak_share)}%)"
    return line


def _full_findings(state: CodeCacheState) -> list[str]:
    """The outage: what the JVM said when it stopped compiling, and what to change."""
    full_count = state.count("full_count")
    counted = f" and full_count={full_count}" if full_count is not None else ""
    findings = [
        "The JIT compiler is disabled because the code cache is full: the JVM reports "
        f'compilation "{FULL_STATE}"{counted}, so new hot code runs interpreted, many times '
        "slower"
    ]
    if state.segmented:
        # report_codemem_full names the segment where an allocation did not fit; that can
        # fail with a few percent still free (one nmethod is tens of KiB), and this output
        # does not say which it was, so every segment whose peak passed 90% is named.
        full = [h for h in state.heaps if h.peak_share > _WARN_SHARE] or list(state.heaps)
        said = " or ".join(
            f"\"CodeHeap '{h.name}' is full. Compiler has been disabled.\"" for h in full
        )
        flags = [f"-XX:{_SEGMENT_FLAGS[h.name]}" for h in full if h.name in _SEGMENT_FLAGS]
        fix = "raise -XX:ReservedCodeCacheSize"
        if flags:
            fix += f" (or {' / '.join(flags)}, which must then add up to it)"
    else:
        said = '"CodeCache is full. Compiler has been disabled."'
        fix = "raise -XX:ReservedCodeCacheSize"
    findings.append(
        f"The JVM's own output (the container log) has its warning {said} "
        f"To fix it, {fix} and restart"
    )
    # compileBroker.hpp (openjdk/jdk, src/hotspot/share/compiler/): a stop that waits for
    # code cache flushing counts in stopped_count; disable_compilation_forever (taken with
    # -XX:-UseCodeCacheFlushing) does not, and nothing turns compilation back on after it.
    stopped = state.count("stopped_count") or 0
    restarted = state.count("restarted_count") or 0
    if stopped > restarted:
        findings.append(
            f"Compilation was stopped {stopped} time(s) and restarted {restarted}: it may "
            "resume if code cache flushing frees space"
        )
    else:
        findings.append("Compilation is off for good: it does not resume until the JVM restarts")
    return findings


def summarise_codecache(text: str) -> Analysis:
    """Headline: the compiler's state and code cache use; findings: one line per segment,
    warnings for segments over 90% full, and a loud finding when the compiler is off."""
    state = parse_codecache(text)
    notes: list[str] = []
    if state.unrecognised:
        notes.append(unrecognised_note(state.unrecognised))
    if not state.heaps:
        notes.append("No code heap line was recognised: is this Compiler.codecache output?")
        return Analysis("Code cache usage not found in the output", (), tuple(notes))
    if state.compilation is None:
        notes.append("The output has no compilation state line: it looks truncated.")

    overall = state.total or (state.heaps[0] if len(state.heaps) == 1 else None)
    size = overall.size_bytes if overall else sum(h.size_bytes for h in state.heaps)
    used = overall.used_bytes if overall else sum(h.used_bytes for h in state.heaps)
    share = used / size if size else 0.0
    usage = f"{format_bytes(used)} used of {format_bytes(size)} ({_percent(share)}%)"
    layout = f"{len(state.heaps)} segments" if state.segmented else "one unsegmented heap"

    findings: list[str] = []
    if state.compilation == FULL_STATE:
        headline = f"JIT compiler disabled: the code cache is full; {usage} now, {layout}"
        findings += _full_findings(state)
    elif state.compilation == INTERPRETER_STATE:
        headline = f"JIT compiler off: the JVM runs interpreted (-Xint); code cache {usage}"
        findings.append(
            f'Compilation is "{INTERPRETER_STATE}": every method runs interpreted, by the '
            "JVM's configuration rather than a full code cache"
        )
    elif state.compilation is not None and state.compilation.startswith("disabled"):
        # A state this parser does not know (a newer JDK's words, or a cut line): still off.
        headline = f'JIT compiler disabled: the JVM reports compilation "{state.compilation}"'
        headline += f"; code cache {usage}, {layout}"
        notes.append(f'The compilation state "{state.compilation}" is not one this parser knows.')
    else:
        shown = state.compilation or "state not shown"
        headline = f"Code cache: {usage}, {layout}; compilation {shown}"

    for heap in state.heaps:
        if heap.used_share > _WARN_SHARE:
            line = f"{heap.name} is {_percent(heap.used_share)}% full"
            line += f" ({format_bytes(heap.free_bytes)} free)"
            if state.compilation != FULL_STATE:
                line += ": when it fills up, the JVM stops compiling"
            findings.append(line)
    findings += [_heap_line(h) for h in state.heaps]

    full_count = state.count("full_count") or 0
    if full_count and state.compilation != FULL_STATE:
        findings.append(f"The code cache has been full {full_count} time(s) since the JVM started")
    stopped = state.count("stopped_count") or 0
    if stopped and state.compilation != FULL_STATE:
        findings.append(
            f"The compiler was stopped {stopped} time(s) for a full code cache and restarted "
            f"{state.count('restarted_count') or 0}: raise -XX:ReservedCodeCacheSize"
        )
    nmethods, adapters = state.count("nmethods"), state.count("adapters")
    if nmethods is not None and adapters is not None:
        findings.append(f"{nmethods} compiled methods (nmethods) and {adapters} adapters")
    return Analysis(headline, tuple(findings), tuple(notes))
