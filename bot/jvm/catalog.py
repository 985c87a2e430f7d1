"""The catalog of diagnostics: one `Tool` per command a user can type.

A tool is one entry here plus its analyser in `bot/jvm/`: the entry holds its options
(key, parser, range, default), how those become agent steps, its follow-up buttons and how
its output is redacted. The grammar, help, the README's command reference, the command echo,
the buttons and the policy all read this catalog, so nothing else changes for a new tool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.jvm.codecache import summarise_codecache
from bot.jvm.flags import summarise_flags
from bot.jvm.heapinfo import summarise_heap_info
from bot.jvm.histogram import summarise_histogram
from bot.jvm.incident import (
    gc_steps,
    hot_steps,
    summarise_gc_run,
    summarise_hot_run,
    summarise_threaddump_run,
    threaddump_steps,
)
from bot.jvm.jps import summarise_jvm_list
from bot.jvm.nmt import summarise_nmt
from bot.jvm.options import OptionSpec, choice, flag, seconds, whole_number
from bot.jvm.recording import profile_steps, summarise_profile_run
from bot.jvm.steps import Jcmd, Step
from bot.jvm.sysprops import summarise_sysprops
from bot.jvm.version import summarise_version
from bot.model.request import Options, OptionValue
from bot.model.results import Analysis, ToolRun

Analyser = Callable[[ToolRun], Analysis]
StepPlan = Callable[[Options], tuple[Step, ...]]
# `properties`: the output is Java Properties text (escapes undone before matching keys);
# `command_lines`: one command line per line, so `--password x` pairs count too.
Redaction = Literal["text", "properties", "command_lines"]


@dataclass(frozen=True)
class FollowUp:
    """A button under a result: `tool` (None: the same one) with `options` set on top of
    its defaults; `action` names the button (`jdebug_run_<action>`)."""

    label: str
    action: str
    tool: str | None = None
    options: tuple[tuple[str, OptionValue], ...] = ()


FOLLOW_UPS = (
    FollowUp("Take another", "again"),
    FollowUp("3 dumps × 5 s", "dumps", "threaddump", (("count", 3), ("interval", 5))),
    FollowUp("Flags", "flags", "flags"),
    FollowUp("Heap histogram", "histo", "histo"),
)


@dataclass(frozen=True)
class Tool:
    """One diagnostic. `steps` turns its options into what the agent runs; no steps (jps)
    means the agent only lists the JVMs it sees. `heavy` tools cost the JVM noticeably, so
    the policy can grant them separately; `mutating` ones change it."""

    name: str
    summary: str
    example: str
    analyser: Analyser
    steps: StepPlan
    aliases: tuple[str, ...] = ()
    options: tuple[OptionSpec, ...] = ()
    follow_ups: tuple[FollowUp, ...] = FOLLOW_UPS
    redaction: Redaction = "text"
    mutating: bool = False
    heavy: bool = False

    def option(self, key: str) -> OptionSpec | None:
        return next((spec for spec in self.options if spec.key == key), None)

    def defaults(self, **given: OptionValue) -> Options:
        """Every option of this tool, at its default unless `given`."""
        return Options.of(**{spec.key: given.get(spec.key, spec.default) for spec in self.options})


def texts_and_options(summarise: Callable[[Sequence[str], Options], Analysis]) -> Analyser:
    """An analyser of the steps' texts and the options, as most tools have."""
    return lambda run: summarise(run.texts, run.options)


def one_command(name: str, line: str, all_args: str | None = None) -> StepPlan:
    """One jcmd step; with `all_args` the tool's `all` option appends them."""

    def plan(options: Options) -> tuple[Step, ...]:
        if all_args and options.flag("all"):
            return (Jcmd(name, f"{line} {all_args}"),)
        return (Jcmd(name, line),)

    return plan


def no_steps(options: Options) -> tuple[Step, ...]:
    return ()


COUNT = whole_number("count", 1, 10, default=1, summary="how many dumps")
INTERVAL = seconds("interval", 1, 60, default=5, summary="the pause between dumps")
TOP = whole_number("top", 1, 500, default=20, summary="how many classes to list")
ALL_FLAGS = flag(
    "all", summary="every flag, not only those set on the command line or by ergonomics"
)
ALL_OBJECTS = flag("all", summary="count unreachable objects too, without a full GC first")

CATALOG: tuple[Tool, ...] = (
    Tool(
        name="jps",
        summary="List the JVMs in the target with pid, uid, main class or jar, and arguments.",
        example="jps pod=cowweb",
        analyser=texts_and_options(summarise_jvm_list),
        steps=no_steps,
        aliases=("ps", "jvms"),
        redaction="command_lines",
    ),
    Tool(
        name="flags",
        summary="Show the JVM's flags (VM.flags): heap sizing, GC, container awareness.",
        example="flags pod=cowweb",
        analyser=texts_and_options(summarise_flags),
        steps=one_command("flags", "VM.flags", "-all"),
        aliases=("vmflags",),
        options=(ALL_FLAGS,),
    ),
    Tool(
        name="threaddump",
        summary="Take thread dumps (Thread.print -l): states, locks, deadlocks, stuck threads.",
        example="threaddump pod=cowweb count=3 interval=5s",
        analyser=summarise_threaddump_run,
        steps=threaddump_steps,
        aliases=("td", "threads", "jstack"),
        options=(COUNT, INTERVAL),
    ),
    Tool(
        name="hot",
        summary="Show the threads using CPU right now: two samples `interval` apart, joined "
        "with a thread dump; GC and JIT threads named as such.",
        example="hot pod=cowweb interval=2s",
        analyser=summarise_hot_run,
        steps=hot_steps,
        aliases=("cpu", "top"),
        options=(
            seconds("interval", 1, 30, default=2, summary="between the two CPU samples"),
            whole_number("top", 1, 50, default=5, summary="how many threads to list"),
        ),
    ),
    Tool(
        name="gc",
        summary="Show GC pressure: time in GC, collections per minute, allocation and "
        "promotion rates, old generation after GC, from two counter samples.",
        example="gc pod=cowweb interval=5s",
        analyser=summarise_gc_run,
        steps=gc_steps,
        aliases=("gcstat",),
        options=(seconds("interval", 1, 60, default=5, summary="between the two samples"),),
    ),
    Tool(
        name="profile",
        summary="Record a JFR profile (cpu, alloc or lock) for `duration` s: top methods, "
        "allocation sites or contended locks, GC pauses, and a flame graph in the thread.",
        example="profile pod=cowweb duration=20s event=cpu",
        analyser=summarise_profile_run,
        steps=profile_steps,
        aliases=("jfr",),
        options=(
            seconds("duration", 5, 120, default=20, summary="how long to record"),
            choice("event", ("cpu", "alloc", "lock"), default="cpu", summary="what to record"),
        ),
        heavy=True,
    ),
    Tool(
        name="version",
        summary="Show the JVM's version (VM.version).",
        example="version pod=cowweb",
        analyser=texts_and_options(summarise_version),
        steps=one_command("version", "VM.version"),
    ),
    Tool(
        name="sysprops",
        summary="Show the JVM's system properties (VM.system_properties).",
        example="sysprops pod=cowweb",
        analyser=texts_and_options(summarise_sysprops),
        steps=one_command("sysprops", "VM.system_properties"),
        aliases=("properties", "props"),
        redaction="properties",
    ),
    Tool(
        name="heap",
        summary="Show heap usage by generation or region (GC.heap_info).",
        example="heap pod=cowweb",
        analyser=texts_and_options(summarise_heap_info),
        steps=one_command("heap", "GC.heap_info"),
        aliases=("heapinfo",),
    ),
    Tool(
        name="histo",
        summary="Show the classes using the most heap (GC.class_histogram; forces a full GC "
        "unless `all`).",
        example="histo pod=cowweb top=20",
        analyser=texts_and_options(summarise_histogram),
        steps=one_command("histo", "GC.class_histogram", "-all"),
        aliases=("histogram",),
        options=(TOP, ALL_OBJECTS),
    ),
    Tool(
        name="nmt",
        summary="Show the JVM's native memory by category against the container's limit "
        "(VM.native_memory summary; needs -XX:NativeMemoryTracking=summary).",
        example="nmt pod=cowweb scale=MB",
        analyser=lambda run: summarise_nmt(
            run.text,
            scale=run.options.word("scale", "MB"),
            memory_limit_bytes=run.facts.memory_limit_bytes,
        ),
        steps=lambda o: (Jcmd("nmt", f"VM.native_memory summary scale={o.word('scale', 'MB')}"),),
        aliases=("native",),
        options=(choice("scale", ("KB", "MB", "GB"), default="MB", summary="the unit"),),
    ),
    Tool(
        name="codecache",
        summary="Show the JIT code cache, used against max per segment, and whether a full "
        "cache stopped the compiler (Compiler.codecache).",
        example="codecache pod=cowweb",
        analyser=lambda run: summarise_codecache(run.text),
        steps=one_command("codecache", "Compiler.codecache"),
        aliases=("jit",),
    ),
)

_BY_NAME: dict[str, Tool] = {alias: t for t in CATALOG for alias in (t.name, *t.aliases)}


def find_tool(name: str) -> Tool | None:
    """The tool called `name` or one of its aliases, case-insensitively."""
    return _BY_NAME.get(name.lower())


def tool_named(name: str) -> Tool:
    """The catalog tool of a request (its name was checked by the grammar)."""
    tool = find_tool(name)
    if tool is None:
        raise KeyError(f"no tool {name!r} in the catalog")
    return tool


def tool_names() -> tuple[str, ...]:
    """Every name and alias a user may type, for "did you mean" suggestions."""
    return (*_BY_NAME.keys(), "help")
