"""File names of the raw outputs (bot/report/snippets.py): one rule for Slack and the terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands.grammar import parse_command
from bot.model.request import Request
from bot.model.results import Analysis, Attachment, RawOutput, Result, StepOutput
from bot.report.snippets import snippets

WHEN = datetime(2026, 11, 29, 13, 15, tzinfo=UTC)


def names(text: str, steps: tuple[StepOutput, ...], analysis: Analysis) -> list[str]:
    request = parse_command(text)
    assert isinstance(request, Request)
    raw = RawOutput(steps=steps, strategy="local", where="this machine", duration_s=1.0)
    result = Result(request, "pod default/cowweb", analysis, raw)
    return [s.filename for s in snippets(result, WHEN)]


def test_repeated_dumps_are_numbered_and_attachments_keep_their_kind() -> None:
    steps = (
        StepOutput("threaddump.1", 7, 0, "dump one\n"),
        StepOutput("threaddump.2", 7, 0, "dump two\n"),
    )
    analysis = Analysis("ok", attachments=(Attachment("threads.json", "JSON dump", b"{}"),))
    assert names("threaddump pod=cowweb count=2", steps, analysis) == [
        "threaddump-cowweb-20261129T131500Z-1.txt",
        "threaddump-cowweb-20261129T131500Z-2.txt",
        "threaddump-cowweb-20261129T131500Z-threads.json",
    ]


def test_one_dump_has_no_number_and_attachments_follow() -> None:
    steps = (StepOutput("threaddump.1", 7, 0, "dump\n"),)
    analysis = Analysis("ok", attachments=(Attachment("flame.png", "flame graph", b"\x89PNG"),))
    assert names("threaddump pod=cowweb", steps, analysis) == [
        "threaddump-cowweb-20261129T131500Z.txt",
        "threaddump-cowweb-20261129T131500Z-flame.png",
    ]
