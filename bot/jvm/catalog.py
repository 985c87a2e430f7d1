"""The catalog of diagnostics: one `Tool` per command a user can type.

Adding a diagnostic means adding one entry here and its analyser in `bot/jvm/`; the
grammar, the help text, the README's command reference and (later) the policy all read
this catalog, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.jvm.flags import summarise_flags
from bot.jvm.heapinfo import summarise_heap_info
from bot.jvm.histogram import summarise_histogram
from bot.jvm.jps import summarise_jvm_list
from bot.jvm.sysprops import summarise_sysprops
from bot.jvm.threaddump import summarise_thread_dumps
from bot.jvm.version import summarise_version
from bot.model.request import Options
from bot.model.results import Analysis

Analyser = Callable[[Sequence[str], Options], Analysis]


@dataclass(frozen=True)
class Tool:
    """One diagnostic. `jcmd` is None for `jps`, which the agent answers from /proc."""

    name: str
    summary: str
    example: str
    analyser: Analyser
    jcmd: str | None = None
    all_args: str | None = None
    aliases: tuple[str, ...] = ()
    options: frozenset[str] = frozenset()
    mutating: bool = False

    def jcmd_line(self, options: Options) -> str | None:
        """The whole jcmd command line for these options, e.g. `VM.flags -all`."""
        if self.jcmd is None:
            return None
        if options.all and self.all_args:
            return f"{self.jcmd} {self.all_args}"
        return self.jcmd


CATALOG: tuple[Tool, ...] = (
    Tool(
        name="jps",
        summary="List the JVMs in the target with pid, uid, main class or jar, and arguments.",
        example="jps pod=cowweb",
        analyser=summarise_jvm_list,
        aliases=("ps", "jvms"),
    ),
    Tool(
        name="flags",
        summary="Show the JVM's flags (VM.flags): heap sizing, GC, container awareness.",
        example="flags pod=cowweb",
        analyser=summarise_flags,
        jcmd="VM.flags",
        all_args="-all",
        aliases=("vmflags",),
        options=frozenset({"all"}),
    ),
    Tool(
        name="threaddump",
        summary="Take thread dumps (Thread.print -l): states, locks, deadlocks, stuck threads.",
        example="threaddump pod=cowweb count=3 interval=5s",
        analyser=summarise_thread_dumps,
        jcmd="Thread.print -l",
        aliases=("td", "threads", "jstack"),
        options=frozenset({"count", "interval"}),
    ),
    Tool(
        name="version",
        summary="Show the JVM's version (VM.version).",
        example="version pod=cowweb",
        analyser=summarise_version,
        jcmd="VM.version",
    ),
    Tool(
        name="sysprops",
        summary="Show the JVM's system properties (VM.system_properties).",
        example="sysprops pod=cowweb",
        analyser=summarise_sysprops,
        jcmd="VM.system_properties",
        aliases=("properties", "props"),
    ),
    Tool(
        name="heap",
        summary="Show heap usage by generation or region (GC.heap_info).",
        example="heap pod=cowweb",
        analyser=summarise_heap_info,
        jcmd="GC.heap_info",
        aliases=("heapinfo",),
    ),
    Tool(
        name="histo",
        summary="Show the classes using the most heap (GC.class_histogram; forces a full GC "
        "unless `all`).",
        example="histo pod=cowweb top=20",
        analyser=summarise_histogram,
        jcmd="GC.class_histogram",
        all_args="-all",
        aliases=("histogram",),
        options=frozenset({"top", "all"}),
    ),
)

_BY_NAME: dict[str, Tool] = {alias: t for t in CATALOG for alias in (t.name, *t.aliases)}


def find_tool(name: str) -> Tool | None:
    """The tool called `name` or one of its aliases, case-insensitively."""
    return _BY_NAME.get(name.lower())


def tool_names() -> tuple[str, ...]:
    """Every name and alias a user may type, for "did you mean" suggestions."""
    return (*_BY_NAME.keys(), "help")


TARGET_USAGE = (
    "[pod=]NAME | ns/NAME | deploy=NAME | selector=k=v,...  [ns=NAMESPACE] [container=NAME] [pid=N]"
)


def usage_lines() -> list[str]:
    """The help text, one line per tool, read from the catalog."""
    lines = [f"Usage: /jdebug <tool> {TARGET_USAGE} [options]", "", "Tools:"]
    width = max(len(t.name) for t in CATALOG)
    for tool in CATALOG:
        aliases = f" (also: {', '.join(tool.aliases)})" if tool.aliases else ""
        lines.append(f"  {tool.name:<{width}}  {tool.summary}{aliases}")
        lines.append(f"  {'':<{width}}  e.g. {tool.example}")
    lines.append(f"  {'help':<{width}}  Show this help.")
    lines += [
        "",
        "Options: count=1..10 and interval=1s..60s (threaddump), top=1..500 (histo), "
        "all (flags, histo).",
    ]
    return lines


def markdown_reference() -> str:
    """The README's command reference, generated so it cannot drift from the catalog."""
    rows = ["| command | what it does | example | options |", "|---|---|---|---|"]
    for tool in CATALOG:
        names = " / ".join(f"`{n}`" for n in (tool.name, *tool.aliases))
        opts = ", ".join(f"`{o}`" for o in sorted(tool.options)) or "—"
        rows.append(f"| {names} | {tool.summary} | `/jdebug {tool.example}` | {opts} |")
    rows.append("| `help` | Show usage and the catalog. | `/jdebug help` | — |")
    return "\n".join(rows) + "\n"
