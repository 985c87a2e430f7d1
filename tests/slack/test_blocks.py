"""Block Kit rendering stays within Slack's limits (which the fake enforces with
invalid_blocks / msg_too_long), escapes what the JVM and users wrote, and its buttons carry
commands the grammar parses back into the same request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.grammar import parse_command
from bot.jvm.catalog import CATALOG
from bot.jvm.threaddump import summarise_thread_dumps
from bot.model.errors import JdebugError
from bot.model.request import Options, Request, Requester
from bot.model.results import Analysis, RawOutput, Result, StepOutput
from handlers.slack.blocks import (
    AGAIN_ACTION,
    SECTION_LIMIT,
    clip,
    error_message,
    fit_lines,
    home_view,
    progress_message,
    result_message,
)
from handlers.slack.payloads import button_command
from scripts.synth_threaddump import synthesise_dump
from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack, limits
from tests.fakeslack.blocks import block_errors, blocks_text_length
from tests.slack.conftest import ALICE
from tests.support.jvms import jattach_text

Block = dict[str, Any]
_MENTION = re.compile(r"<@U[0-9A-Z]+>")


def texts(blocks: list[Block]) -> list[str]:
    """Every mrkdwn/plain text in the blocks."""
    out = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(str(block["text"]["text"]))
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), str):
                out.append(element["text"])
            elif isinstance(element.get("text"), dict):
                out.append(str(element["text"]["text"]))
    return out


def assert_within_limits(
    text: str, blocks: list[Block], max_blocks: int = limits.MAX_BLOCKS_MESSAGE
) -> None:
    """Within Slack's documented numbers (tests/fakeslack/limits.py, each with its source),
    never the bot's own constants; the blocks pass the fake's oracles (@slack/types schema,
    slack_sdk models, Block Kit limits)."""
    assert len(text) <= limits.TEXT_RECOMMENDED
    assert block_errors(blocks, max_blocks=max_blocks) == []
    if max_blocks == limits.MAX_BLOCKS_MESSAGE:
        assert blocks_text_length(blocks) <= limits.MAX_BLOCKS_TEXT_TOTAL
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= limits.SECTION_TEXT
        if block["type"] == "context":
            assert len(block["elements"]) <= limits.CONTEXT_ELEMENTS
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= limits.BUTTON_TEXT
                assert len(element["value"]) <= limits.BUTTON_VALUE


def make_result(request: Request, analysis: Analysis, dump: str, target: str) -> Result:
    raw = RawOutput(
        steps=(StepOutput("threaddump", 4242, 0, dump),),
        strategy="local",
        where="this machine",
        duration_s=3.2,
    )
    return Result(request, target, analysis, raw)


async def test_summary_of_a_10000_thread_dump_fits_and_slack_accepts_it(
    fake_slack: FakeSlack, cowweb_factory
) -> None:
    jvm = cowweb_factory(25, deadlock=True)
    dump = synthesise_dump(jattach_text(jvm.pid, "Thread.print -l"), threads=10_000)
    analysis = summarise_thread_dumps([dump], Options.of(count=1))
    request = parse_command(f"threaddump pid={jvm.pid}", Requester("slack", ALICE))
    assert isinstance(request, Request)
    result = make_result(request, analysis, dump, f"pid {jvm.pid} cowweb.jar")

    text, blocks = result_message(result, ALICE)

    assert_within_limits(text, blocks)
    client = fake_slack.client()
    working_text, working_blocks = progress_message(request, ALICE, "running threaddump")
    posted = await client.chat_postMessage(
        channel=DEFAULT_CHANNEL, text=working_text, blocks=working_blocks
    )
    await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text=text, blocks=blocks)
    shown = fake_slack.messages[posted["ts"]]
    assert shown.text == text and "deadlock" in shown.text
    # Thread entries, Java and VM-internal; not the `"worker-3":` lines of the deadlock report.
    threads_in_dump = len(re.findall(r'^"[^"]*" ', dump, re.MULTILINE))
    assert threads_in_dump > 10_000
    assert f"{threads_in_dump:,} threads" in texts(shown.blocks)[1]


_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=5000)


@settings(max_examples=60, deadline=None)
@given(
    headline=_ANY_TEXT,
    findings=st.lists(_ANY_TEXT, max_size=80),
    notes=st.lists(_ANY_TEXT, max_size=30),
    target=_ANY_TEXT,
)
def test_any_analysis_renders_within_limits_with_jvm_text_escaped(
    headline: str, findings: list[str], notes: list[str], target: str
) -> None:
    request = Request("threaddump", requester=Requester("slack", ALICE))
    analysis = Analysis(headline, tuple(findings), tuple(notes))

    text, blocks = result_message(make_result(request, analysis, "dump", target), ALICE)

    assert_within_limits(text, blocks)
    # Only our own mention of the requester may be Slack markup, in the blocks and in the
    # fallback `text` that Slack parses (and notifies with) just the same.
    for shown in [text, *texts(blocks)]:
        assert "<" not in _MENTION.sub("", shown)


@settings(max_examples=200, deadline=None)
@given(text=_ANY_TEXT, limit=st.integers(min_value=60, max_value=4000))
def test_clip_never_exceeds_the_limit_and_keeps_short_text(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert len(clipped) <= limit
    if len(text) <= limit:
        assert clipped == text
    else:
        assert "more characters" in clipped


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.text(max_size=4000), max_size=60))
def test_fit_lines_keeps_whole_lines_and_counts_the_rest(lines: list[str]) -> None:
    fitted = fit_lines(lines, SECTION_LIMIT, "more")
    assert len(fitted) <= SECTION_LIMIT
    match = re.search(r"… and (\d+) more$", fitted)
    if match:
        assert int(match[1]) >= 1


def test_error_and_progress_messages_fit_whatever_the_error_says() -> None:
    request = Request("flags", requester=Requester("slack", ALICE))
    long_error = "300 JVMs match; pick one with pid=N: " + "; ".join(
        f"pid {n} <java> -jar /app/service-{n}.jar --name=svc-{n}" for n in range(300)
    )
    for text, blocks in (
        error_message(request, ALICE, JdebugError(long_error)),
        progress_message(request, ALICE, long_error),
    ):
        assert_within_limits(text, blocks)
        assert "<java>" not in "".join(texts(blocks))


_NAME = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@st.composite
def commands(draw: st.DrawFn) -> str:
    tool = draw(st.sampled_from([t for t in CATALOG]))
    words = [tool.name, f"pod={draw(_NAME)}"]
    if draw(st.booleans()):
        words.append(f"ns={draw(_NAME)}")
    if draw(st.booleans()):
        words.append(f"pid={draw(st.integers(1, 4_000_000))}")
    if tool.option("count") and draw(st.booleans()):
        words += [f"count={draw(st.integers(2, 10))}", f"interval={draw(st.integers(1, 60))}s"]
    top = tool.option("top")
    if top and draw(st.booleans()):
        # Each tool's own range, as its help states it (`top=1..50`).
        low, high = (int(n) for n in top.form.split("=", 1)[1].split(".."))
        words.append(f"top={draw(st.integers(low, high))}")
    if tool.option("all") and draw(st.booleans()):
        words.append("all")
    return " ".join(words)


@settings(max_examples=150, deadline=None)
@given(command=commands())
def test_every_button_carries_a_command_the_grammar_parses_back(command: str) -> None:
    requester = Requester("slack", ALICE, DEFAULT_CHANNEL)
    request = parse_command(command, requester)
    assert isinstance(request, Request)
    result = make_result(request, Analysis("ok"), "dump", "somewhere")

    _, blocks = result_message(result, ALICE)
    (actions,) = [b for b in blocks if b["type"] == "actions"]

    for element in actions["elements"]:
        text = button_command(element["value"])
        assert text is not None
        again = parse_command(text, requester)
        assert isinstance(again, Request)
        assert again.target == request.target
        if element["action_id"] == AGAIN_ACTION:
            assert again == request


def test_a_forged_button_value_is_refused() -> None:
    for value in ("", "not json", "[1]", '{"cmd": 3}', '{"other": "flags"}'):
        assert button_command(value) is None
    assert button_command(json.dumps({"cmd": "flags pod=x"})) == "flags pod=x"


def test_home_view_fits_with_long_history() -> None:
    history = [("threaddump pod=" + "x" * 60 + f" pid={n}", "ok: " + "y" * 150) for n in range(5)]
    view = home_view(history)
    assert view["type"] == "home"
    blocks = view["blocks"]
    assert_within_limits("", blocks, max_blocks=limits.MAX_BLOCKS_VIEW)
    assert all(cmd in str(blocks) for cmd, _ in history)
