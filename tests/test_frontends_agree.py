"""The terminal and Slack answer the same text with the same help and the same sentences:
both go through one core service (bot/session/service.py)."""

from __future__ import annotations

import io

import pytest

from bot.local.strategy import LocalBackend
from bot.model.request import Requester
from handlers.slack.listeners import refusal_text
from handlers.terminal import EXIT_BAD_INPUT, EXIT_OK, run_text
from tests.support.settings import terminal_service


def slack_says(text: str) -> str:
    """What a Slack user reads for `text`, as plain text (code fences and escapes undone)."""
    service = terminal_service(LocalBackend())
    refusal = service.admit(text, Requester("slack", "U0ALICE001", "C0OPS00001"))
    said = refusal_text(refusal)  # type: ignore[arg-type]
    said = said.removeprefix("```\n").removesuffix("\n```")
    return said.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.mark.parametrize("text", ["help threaddump", "help nmt", "help"])
async def test_help_is_the_same_in_the_terminal_and_in_slack(text: str) -> None:
    out = io.StringIO()
    rc = await run_text(text, terminal_service(LocalBackend()), out, err=io.StringIO())
    assert rc == EXIT_OK
    assert out.getvalue().rstrip("\n") == slack_says(text)
    if text == "help threaddump":
        assert "count=1..10" in out.getvalue() and "threaddump pod=cowweb" in out.getvalue()


async def test_a_bad_command_gets_the_same_sentence_in_both() -> None:
    out = io.StringIO()
    rc = await run_text("threaddump count=11", terminal_service(LocalBackend()), out)
    assert rc == EXIT_BAD_INPUT
    sentence = "count=11 is out of range; use count=1..10."
    assert sentence in out.getvalue()
    assert sentence in slack_says("threaddump count=11")
