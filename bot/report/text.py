"""Render a `Result` (or an error) for a terminal, laid out the way the Slack thread looks.

First the parent message (tool, target, key findings, strategy, duration, cleanup), then
each raw output as a titled snippet, exactly as they would be threaded under it in Slack.
"""

from __future__ import annotations

from bot.jvm.units import format_bytes
from bot.model.errors import JdebugError
from bot.model.results import Analysis, Result
from bot.report.snippets import snippets

_RULE = "─" * 72


def render_result(result: Result, *, with_snippets: bool = True) -> str:
    analysis = result.analysis
    raw = result.raw
    lines = [
        f"┏ jdebug {result.request.tool} · {result.target}",
        f"┃ {analysis.headline}",
    ]
    lines += [f"┃   • {finding}" for finding in analysis.findings]
    lines += [f"┃   ⓘ {note}" for note in analysis.notes]
    lines.append(f"┗ via {raw.strategy} on {raw.where} · {raw.duration_s:.1f}s · {result.cleanup}")
    if with_snippets:
        for snippet in snippets(result):
            if isinstance(snippet.text, bytes):
                lines += ["", f"── file {snippet.filename} ({format_bytes(len(snippet.text))})"]
                continue
            size = len(snippet.text.encode())
            lines += [
                "",
                f"── snippet {snippet.filename} ({format_bytes(size)}) · {snippet.title}",
                snippet.text.rstrip("\n"),
                _RULE,
            ]
    return "\n".join(lines) + "\n"


def render_analysis(name: str, analysis: Analysis) -> str:
    """A file's summary (`jdebug analyse`), laid out as a result's parent message."""
    lines = [f"┏ jdebug analyse · {name}", f"┃ {analysis.headline}"]
    lines += [f"┃   • {finding}" for finding in analysis.findings]
    lines += [f"┃   ⓘ {note}" for note in analysis.notes]
    lines.append("┗ nothing ran: read from the file")
    return "\n".join(lines) + "\n"


def render_error(error: JdebugError) -> str:
    text = f"✖ {error.message}"
    if error.fix:
        text += f"\n  fix: {error.fix}"
    return text + "\n"
