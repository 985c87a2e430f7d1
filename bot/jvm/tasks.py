"""Per-thread CPU samples of a JVM: the `task_sample.sh` snippet and the parser of its output.

The snippet runs next to the JVM (as an agent step) and prints each thread's
`/proc/PID/task/TID/stat` and `NSpid:`, a clock and the container's CPU limit; `hot`
compares two such samples. Parsing never raises: what cannot be read becomes a note, and a
sample with nothing usable carries one sentence in `problem`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files

SAMPLE_SCRIPT: str = files("bot.jvm").joinpath("task_sample.sh").read_text(encoding="utf-8")

# utime and stime count in USER_HZ ticks, which the kernel fixes at 100 for user space on
# every architecture Kubernetes runs on (include/asm-generic/param.h; proc(5): "divide by
# sysconf(_SC_CLK_TCK)"). The snippet has no getconf, so the constant stands in for it.
USER_HZ = 100

_HEADER = re.compile(r"jdebug-sample 1 pid=(\d{1,10})")
_ERROR = re.compile(r"error (\d{1,3}) (.+)")
_CPU_RANGE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
# Fields after the `(comm)` of a stat line: 3 state ... 14 utime, 15 stime ... 22 starttime.
_STATE, _UTIME, _STIME, _STARTTIME = 0, 11, 12, 19


def sample_argv(pid: int, shell: str = "/bin/sh") -> list[str]:
    """The command that samples JVM `pid`: the fixed snippet, with the pid as its only arg."""
    return [shell, "-c", SAMPLE_SCRIPT, "jdebug-sample", str(pid)]


@dataclass(frozen=True)
class TaskTimes:
    """One thread (or, for `TaskSample.process`, the whole JVM) at one sample.

    `tid` is the id the sampler sees, `nspid` the one in the JVM's own PID namespace (what
    a thread dump prints as `nid`); `start_ticks` tells a reused tid from the same thread.
    """

    tid: int
    name: str
    state: str
    cpu_ticks: int
    start_ticks: int
    nspid: int | None = None


@dataclass(frozen=True)
class CpuLimit:
    """The container's CPU quota in cores (None: no limit) and the file it was read from."""

    cores: float | None
    source: str

    def describe(self) -> str:
        if self.cores is None:
            return "no CPU limit"
        return f"a {self.cores:g}-core limit"


@dataclass(frozen=True)
class TaskSample:
    """One run of the snippet; `complete` is False when its `end` line never came."""

    pid: int | None
    uptime_s: float | None
    allowed_cpus: int | None
    limit: CpuLimit | None
    process: TaskTimes | None
    tasks: Mapping[int, TaskTimes] = field(default_factory=dict)
    complete: bool = False
    problem: str | None = None
    notes: tuple[str, ...] = ()


def _stat_times(line: str) -> TaskTimes | None:
    """A `/proc/.../stat` line; the name sits in the last `(...)`, which may hold spaces."""
    open_at, close_at = line.find(" ("), line.rfind(")")
    if open_at < 1 or close_at < open_at:
        return None
    fields = line[close_at + 1 :].split()
    tid_text = line[:open_at]
    if len(fields) <= _STARTTIME or not tid_text.isdigit() or len(tid_text) > 10:
        return None
    try:
        utime, stime, start = (int(fields[i]) for i in (_UTIME, _STIME, _STARTTIME))
    except ValueError:
        return None
    name = line[open_at + 2 : close_at]
    return TaskTimes(int(tid_text), name, fields[_STATE], utime + stime, start)


def _cpu_count(cpu_list: str) -> int | None:
    """How many CPUs a list like `0-3,8,10-11` names."""
    count = 0
    for part in cpu_list.split(","):
        match = _CPU_RANGE.fullmatch(part.strip())
        if match is None:
            return None
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        count += max(0, high - low + 1)
    return count or None


def _limit(words: list[str]) -> CpuLimit | None:
    """`v2 FILE QUOTA PERIOD`, `v1 DIR QUOTA PERIOD` or `none`; None if malformed."""
    if words == ["none"]:
        return CpuLimit(None, "no cpu.max or cpu.cfs_quota_us was readable")
    if len(words) != 4 or words[0] not in ("v1", "v2"):
        return None
    version, where, quota, period = words
    source = f"cgroup {version} {where}"
    if quota in ("max", "-1"):
        return CpuLimit(None, source)
    if not (quota.isdigit() and period.isdigit()) or int(period) == 0:
        return None
    return CpuLimit(int(quota) / int(period), source)


def parse_task_sample(text: str) -> TaskSample:
    """Read one output of `task_sample.sh`; bad, empty or cut-short text never raises."""
    pid: int | None = None
    uptime: float | None = None
    cpus: int | None = None
    limit: CpuLimit | None = None
    process: TaskTimes | None = None
    stats: dict[int, TaskTimes] = {}
    nspids: dict[int, int] = {}
    complete = False
    unrecognised: list[str] = []
    for raw in text.splitlines():
        kind, _, rest = raw.strip().partition(" ")
        if kind == "jdebug-sample" and (match := _HEADER.fullmatch(raw.strip())):
            pid = int(match.group(1))
        elif kind == "error" and (match := _ERROR.fullmatch(raw.strip())):
            message = match.group(2)
            problem = message[:1].upper() + message[1:] + "."
            return TaskSample(None, None, None, None, None, problem=problem)
        elif kind == "uptime" and rest:
            try:
                uptime = float(rest.split()[0])
            except ValueError:
                unrecognised.append(raw)
        elif kind == "cpus":
            cpus = _cpu_count(rest)
        elif kind == "limit" and (parsed := _limit(rest.split())) is not None:
            limit = parsed
        elif kind in ("process", "stat") and (times := _stat_times(rest)) is not None:
            if kind == "process":
                process = times
            else:
                stats[times.tid] = times
        elif kind == "nspid" and (ids := rest.split()) and all(i.isdigit() for i in ids):
            # `nspid TID ID...`: the last ID is the tid in the JVM's innermost namespace.
            if len(ids) >= 2 and len(ids[0]) <= 10 and len(ids[-1]) <= 10:
                nspids[int(ids[0])] = int(ids[-1])
        elif kind == "end":
            complete = True
        elif raw.strip():
            unrecognised.append(raw)

    notes: list[str] = []
    if pid is None and not stats:
        what = "it is empty" if not text.strip() else f"it starts with {text.strip()[:40]!r}"
        problem = f"This is not the output of jdebug's CPU sampler ({what}); take it again."
        return TaskSample(None, None, None, None, None, problem=problem)
    if not complete:
        notes.append("The CPU sample was cut short; threads after the cut are missing.")
    if unrecognised:
        notes.append(
            f"{len(unrecognised)} line(s) of the CPU sample were not understood, "
            f"e.g. {unrecognised[0][:60]!r}."
        )
    tasks = {
        tid: TaskTimes(t.tid, t.name, t.state, t.cpu_ticks, t.start_ticks, nspids.get(tid))
        for tid, t in stats.items()
    }
    return TaskSample(pid, uptime, cpus, limit, process, tasks, complete, None, tuple(notes))
