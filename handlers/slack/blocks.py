"""Render requests, progress, results and errors as Slack Block Kit, within Slack's limits.

Limits (facts/slack.md): section text ≤ 3000 chars, ≤ 50 blocks, message text ≤ 4000,
button value ≤ 2000 and text ≤ 75. Everything user- or JVM-provided is escaped, in blocks and
in the fallback `text` alike, because a lock address like `<0x…>` or a process name like
`<!here>` would otherwise be read as Slack markup (a mention, a link).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.commands.echo import chosen_request, command_text, follow_up_request
from bot.commands.help import help_lines
from bot.jvm.catalog import CATALOG, tool_named
from bot.model.errors import AmbiguousTarget, JdebugError, PolicyDenied
from bot.model.request import Request
from bot.model.results import Result
from bot.session.reporter import PodAnswer, fanout_headline

Block = dict[str, Any]

SECTION_LIMIT = 3000
CONTEXT_TEXT_LIMIT = 2000
CONTEXT_ELEMENTS = 10
TEXT_LIMIT = 4000
MAX_BLOCKS = 50
HOME_MAX_BLOCKS = 100
BUTTON_VALUE_LIMIT = 2000
BUTTON_TEXT_LIMIT = 75
RUN_ACTION_PREFIX = "jdebug_run"
AGAIN_ACTION = f"{RUN_ACTION_PREFIX}_again"
PICK_ACTION = f"{RUN_ACTION_PREFIX}_pick"
# One button per candidate when several JVMs or pods match, then "and N more".
MAX_CHOICES = 5


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are special (Slack's 'Formatting text' docs)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a line end when one is near, saying so."""
    if len(text) <= limit:
        return text
    marker = "\n… ({} more characters)"
    keep = limit - len(marker.format(len(text)))
    cut = text.rfind("\n", keep * 2 // 3, keep)
    cut = cut if cut > 0 else keep
    # Never leave half an escape (`&am`): Slack would show it literally.
    entity = text.rfind("&", max(0, cut - 5), cut)
    if entity >= 0 and ";" not in text[entity:cut]:
        cut = entity
    return text[:cut].rstrip() + marker.format(len(text) - cut)


def fit_lines(lines: Sequence[str], limit: int, more: str = "more") -> str:
    """As many whole lines as fit in `limit` characters, then `… and N <more>`."""
    kept: list[str] = []
    size = 0
    for i, whole in enumerate(lines):
        line = clip(whole, limit - 80)
        tail = f"\n… and {len(lines) - i} {more}"
        if size + len(line) + 1 + len(tail) > limit and kept:
            return "\n".join(kept) + tail
        kept.append(line)
        size += len(line) + 1
    return clip("\n".join(kept), limit)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": clip(t, CONTEXT_TEXT_LIMIT)}
            for t in texts[:CONTEXT_ELEMENTS]
        ],
    }


def title_line(request: Request, user: str) -> str:
    return f"*jdebug {request.tool}* · `{escape(command_text(request))}` · requested by <@{user}>"


def progress_message(request: Request, user: str, status: str) -> tuple[str, list[Block]]:
    """The parent message while the session runs: what, for whom, and the current step."""
    text = f"jdebug {request.tool}: {escape(status)}"
    return clip(text, TEXT_LIMIT), [
        section(title_line(request, user)),
        context(f"⏳ {escape(status)}"),
    ]


def result_message(result: Result, user: str) -> tuple[str, list[Block]]:
    """Key findings first, then how it ran, then the follow-up buttons."""
    analysis = result.analysis
    blocks = [
        section(title_line(result.request, user)),
        section(f"*{escape(analysis.headline)}*\n{escape(result.target)}"),
    ]
    if analysis.findings:
        bullets = [f"• {escape(f)}" for f in analysis.findings]
        blocks.append(section(fit_lines(bullets, SECTION_LIMIT, "more in the raw output")))
    if analysis.notes:
        shown = [f"ⓘ {escape(n)}" for n in analysis.notes[: CONTEXT_ELEMENTS - 1]]
        if len(analysis.notes) > len(shown):
            shown.append(f"ⓘ and {len(analysis.notes) - len(shown)} more notes")
        blocks.append(context(*shown))
    raw = result.raw
    files = len(raw.steps)
    blocks.append(
        context(
            f"✅ via *{escape(raw.strategy)}* on {escape(raw.where)} · {raw.duration_s:.1f}s · "
            f"{escape(result.cleanup)} · raw output: {files} file{'s' if files != 1 else ''} "
            "in the thread"
        )
    )
    follow_ups = actions(result.request)
    if follow_ups is not None:
        blocks.append(follow_ups)
    text = f"jdebug {result.request.tool} · {escape(result.target)}: {escape(analysis.headline)}"
    return clip(text, TEXT_LIMIT), blocks[:MAX_BLOCKS]


def fanout_message(
    request: Request, user: str, answers: Sequence[PodAnswer]
) -> tuple[str, list[Block]]:
    """The parent of an `all` request once every pod is done: one line per pod, its
    headline or its error; each pod's own answer and raw output are in the thread."""
    headline = fanout_headline(answers)
    lines = [
        f"• *{escape(a.pod)}*: {escape(a.headline or '')}"
        if a.error is None
        else f"• ✖ *{escape(a.pod)}*: {escape(a.error)}"
        for a in answers
    ]
    blocks = [section(title_line(request, user)), section(f"*{escape(headline)}*")]
    if lines:
        blocks.append(section(fit_lines(lines, SECTION_LIMIT, "more pods")))
    blocks.append(context("each pod's answer and raw output are in the thread"))
    text = f"jdebug {request.tool} · {escape(request.target.describe())}: {headline}"
    return clip(text, TEXT_LIMIT), blocks


def error_text(error: JdebugError) -> str:
    """The one sentence a user reads, escaped, plus what an admin could change when known.
    A denial's contact is the admin's own Slack markup and stays as written."""
    message = escape(error.message)
    if isinstance(error, PolicyDenied) and error.contact:
        message = message.replace(escape(error.contact), error.contact)
    return f"✖ {message}" + (f"\nfix: {escape(error.fix)}" if error.fix else "")


def error_message(
    request: Request | None, user: str, error: JdebugError
) -> tuple[str, list[Block]]:
    """The parent message when the request failed after the parent was posted; several
    matching JVMs or pods come with one button each."""
    blocks = [section(title_line(request, user))] if request else []
    blocks.append(section(error_text(error)))
    if request is not None and isinstance(error, AmbiguousTarget):
        blocks += choice_blocks(request, error)
    return clip(f"jdebug: {error_text(error)}", TEXT_LIMIT), blocks


def choice_blocks(request: Request, error: AmbiguousTarget) -> list[Block]:
    """One button per matching JVM or pod (at most MAX_CHOICES), each running the same
    command with `pid=` or `pod=` set, then how many more there are."""
    elements: list[Block] = []
    for i, choice in enumerate(error.choices[:MAX_CHOICES]):
        made = button(choice.label, chosen_request(request, choice), f"{PICK_ACTION}_{i}")
        if made is not None:
            elements.append(made)
    if not elements:
        return []
    blocks: list[Block] = [{"type": "actions", "elements": elements}]
    more = len(error.choices) - MAX_CHOICES
    if more > 0:
        key = error.choices[0].key
        blocks.append(context(f"and {more} more: type the command with {key}=…"))
    return blocks


def button(label: str, request: Request, action_id: str) -> Block | None:
    """A button whose value is the whole command, re-parsed by the grammar on click."""
    value = json.dumps({"cmd": command_text(request)}, separators=(",", ":"))
    if len(value) > BUTTON_VALUE_LIMIT:
        return None  # cut JSON would not parse; the user can still type the command
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label[:BUTTON_TEXT_LIMIT]},
        "action_id": action_id,
        "value": value,
    }


def actions(request: Request) -> Block | None:
    """The tool's follow-ups from the catalog; each button carries its whole command, so any
    replica can serve it. A follow-up identical to an earlier one is left out."""
    elements: list[Block] = []
    seen: set[str] = set()
    for follow_up in tool_named(request.tool).follow_ups:
        again = follow_up_request(request, follow_up)
        cmd = command_text(again)
        made = button(follow_up.label, again, f"{RUN_ACTION_PREFIX}_{follow_up.action}")
        if cmd not in seen and made is not None:
            elements.append(made)
        seen.add(cmd)
    return {"type": "actions", "elements": elements} if elements else None


def help_text(topic: str | None = None) -> str:
    """Usage as a code block: everything, or one tool's for `help <tool>`."""
    return "```\n" + escape("\n".join(help_lines(topic))) + "\n```"


def home_view(history: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """App Home: usage, the catalog, and this user's last requests with their outcome."""
    tools = [
        f"• `{t.name}`: {escape(t.summary)} e.g. `/jdebug {escape(t.example)}`" for t in CATALOG
    ]
    recent = [f"• `{escape(cmd)}`: {escape(outcome)}" for cmd, outcome in history]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "jdebug"}},
        section(
            "JDK diagnostics for JVMs in pods. Type `/jdebug &lt;tool&gt; pod=&lt;name&gt;` in a "
            "channel I am in; the summary appears there and the raw output in its thread. "
            "`/jdebug help` lists every option."
        ),
        section("*Tools*\n" + fit_lines(tools, SECTION_LIMIT - 20, "more tools")),
        section(
            "*Your last requests*\n"
            + (fit_lines(recent, SECTION_LIMIT - 30, "older") if recent else "_none yet_")
        ),
    ]
    return {"type": "home", "blocks": blocks[:HOME_MAX_BLOCKS]}
