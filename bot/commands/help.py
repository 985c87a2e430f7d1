"""Help text, read from the catalog: the whole usage, one tool's help, and the README's
command reference. Every frontend shows these same lines (Slack in a code block).
"""

from __future__ import annotations

from bot.jvm.catalog import CATALOG, Tool, find_tool
from bot.jvm.options import OptionSpec

TARGET_USAGE = (
    "[pod=]NAME | ns/NAME | deploy=NAME | selector=k=v,...  [ns=NAMESPACE] [container=NAME] "
    "[pid=N] [cluster=NAME]"
)


def _default(spec: OptionSpec) -> str:
    return "" if spec.flag else f", default {spec.show(spec.default)}"


def option_lines(tool: Tool) -> list[str]:
    """`count=1..10  how many dumps (default 1)` for each option of `tool`."""
    return [f"{spec.form}  {spec.summary}{_default(spec)}" for spec in tool.options]


def help_lines(topic: str | None = None) -> list[str]:
    """Everything for `help`; one tool's name, summary, options and example for
    `help <tool>`."""
    tool = find_tool(topic) if topic else None
    if tool is None:
        return usage_lines()
    aliases = f" (also: {', '.join(tool.aliases)})" if tool.aliases else ""
    lines = [f"{tool.name}{aliases}: {tool.summary}"]
    options = option_lines(tool)
    if options:
        lines += ["Options:", *(f"  {line}" for line in options)]
    lines += [f"Target: {TARGET_USAGE}", f"e.g. /jdebug {tool.example}"]
    return lines


def usage_lines() -> list[str]:
    """The help text, one line per tool, read from the catalog."""
    lines = [f"Usage: /jdebug <tool> {TARGET_USAGE} [options]", "", "Tools:"]
    width = max(len(t.name) for t in CATALOG)
    for tool in CATALOG:
        aliases = f" (also: {', '.join(tool.aliases)})" if tool.aliases else ""
        lines.append(f"  {tool.name:<{width}}  {tool.summary}{aliases}")
        for option in option_lines(tool):
            lines.append(f"  {'':<{width}}    {option}")
        lines.append(f"  {'':<{width}}  e.g. {tool.example}")
    lines.append(f"  {'help':<{width}}  Show this help; `help <tool>` shows one tool's.")
    lines += ["", "With deploy= or selector=, `all` runs on every matching pod."]
    return lines


def markdown_reference() -> str:
    """The README's command reference, generated so it cannot drift from the catalog."""
    rows = ["| command | what it does | example | options |", "|---|---|---|---|"]
    for tool in CATALOG:
        names = " / ".join(f"`{n}`" for n in (tool.name, *tool.aliases))
        opts = "<br>".join(f"`{spec.form}` {spec.summary}{_default(spec)}" for spec in tool.options)
        rows.append(f"| {names} | {tool.summary} | `/jdebug {tool.example}` | {opts or '—'} |")
    rows.append("| `help` | Show usage; `help <tool>` shows one tool's. | `/jdebug help` | — |")
    return "\n".join(rows) + "\n"
