"""What a frontend implements to show one request: its progress, its result or error, and in
a fan-out one reply per pod and a summary. Everything else is the core's (`service.py`).

A reporter never raises for a failure of its own transport, except `Undeliverable` when the
very first message cannot be delivered (then nothing runs); it reports other delivery
problems in the text it returns, for the audit record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.model.errors import JdebugError
from bot.model.request import Request
from bot.model.results import Result
from bot.session.run import Progress


@dataclass(frozen=True)
class PodAnswer:
    """One pod of a fan-out in the summary: its headline, or its error."""

    pod: str
    headline: str | None = None
    error: str | None = None


def fanout_headline(answers: Sequence[PodAnswer]) -> str:
    failed = sum(1 for answer in answers if answer.error is not None)
    return f"{len(answers)} pods: {len(answers) - failed} answered, {failed} failed"


class Reporter(Protocol):
    async def progress(self, event: Progress) -> None:
        """The session moved on (found the target, runs via a strategy, analyses)."""
        ...

    async def result(self, result: Result) -> str:
        """Show the answer and its raw outputs; return a note when the files could not all
        be delivered ("" when fine)."""
        ...

    async def error(self, error: JdebugError) -> None:
        """Tell the requester, in one sentence, why there is no answer."""
        ...

    async def pod(self, result: Result) -> str:
        """A fan-out's reply for one pod, as soon as it is done; a note as for `result`."""
        ...

    async def fanout(self, request: Request, answers: Sequence[PodAnswer]) -> None:
        """A fan-out's summary once every pod is done: one line per pod."""
        ...
