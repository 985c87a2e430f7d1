"""The terminal frontend: `jdebug run "<text>"` and `jdebug console`, the same text as Slack.

A `Reporter` over the core service, like the Slack one: the answer goes to stdout, laid out
as the Slack thread would look, and progress to stderr, so stdout holds only the answer.
"""

from __future__ import annotations

import getpass
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.commands.grammar import HelpRequest
from bot.commands.help import help_lines
from bot.model.errors import GrammarError, JdebugError
from bot.model.request import Request, Requester
from bot.model.results import Analysis, Result
from bot.report.text import render_analysis, render_error, render_result
from bot.session.analyse import analyse_paths
from bot.session.reporter import PodAnswer, fanout_headline
from bot.session.run import Progress
from bot.session.service import Admitted, JdebugService

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class TerminalReporter:
    """The answer to stdout; files an analyser made (a flame graph, a recording) into
    `files`, a folder made on first use when none was given, and named in the answer."""

    def __init__(self, out: TextIO, err: TextIO, files: Path | None = None) -> None:
        self.out = out
        self.err = err
        self.files = files

    async def progress(self, event: Progress) -> None:
        self.err.write(f"… {event.message}\n")
        self.err.flush()

    async def result(self, result: Result) -> str:
        self.out.write(render_result(result))
        self.write_files(result.analysis)
        return ""

    async def pod(self, result: Result) -> str:
        return await self.result(result)

    def write_files(self, analysis: Analysis, stem: str = "jdebug") -> None:
        if not analysis.attachments:
            return
        if self.files is None:
            self.files = Path(tempfile.mkdtemp(prefix="jdebug-"))
        self.files.mkdir(parents=True, exist_ok=True)
        for attachment in analysis.attachments:
            path = self.files / f"{stem}-{attachment.name}"
            path.write_bytes(attachment.data)
            self.out.write(f"  wrote {path} ({attachment.title})\n")

    async def fanout(self, request: Request, answers: Sequence[PodAnswer]) -> None:
        self.out.write(f"━━ jdebug {request.tool} on {fanout_headline(answers)}\n")
        for answer in answers:
            if answer.error is not None:
                self.out.write(f"✖ {answer.pod}: {answer.error}\n")

    async def error(self, error: JdebugError) -> None:
        self.out.write(render_error(error))


def terminal_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (a container)
        return "local"


async def run_text(
    text: str,
    service: JdebugService,
    out: TextIO,
    *,
    err: TextIO = sys.stderr,
    files: Path | None = None,
) -> int:
    """Run one command line; write the answer to `out`; return a process exit code."""
    admitted = service.admit(text, Requester("terminal", terminal_user()))
    if isinstance(admitted, HelpRequest):
        out.write("\n".join(help_lines(admitted.topic)) + "\n")
        return EXIT_OK
    if isinstance(admitted, JdebugError):
        out.write(render_error(admitted))
        return EXIT_BAD_INPUT if isinstance(admitted, GrammarError) else EXIT_FAILED
    finished = await _run(admitted, service, TerminalReporter(out, err, files))
    if finished == "ok":
        return EXIT_OK
    return EXIT_INTERNAL if finished == "internal_error" else EXIT_FAILED


async def _run(admitted: Admitted, service: JdebugService, reporter: TerminalReporter) -> str:
    with admitted.permit:
        return (await service.run(admitted, reporter)).outcome


def analyse(paths: Sequence[Path], out: TextIO, event: str, files: Path | None) -> int:
    """`jdebug analyse FILE...`: the summaries of dumps and recordings people already have."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        out.write(f"✖ {missing[0]} is not a file; give the paths of thread dumps or .jfr files\n")
        return EXIT_BAD_INPUT
    reporter = TerminalReporter(out, sys.stderr, files)
    for named in analyse_paths(paths, event):
        out.write(render_analysis(named.name, named.analysis))
        reporter.write_files(named.analysis, Path(named.name).stem)
    return EXIT_OK


async def console(
    service: JdebugService, stdin: TextIO, out: TextIO, files: Path | None = None
) -> int:
    """Read command lines like a chat until EOF or `quit`; each gets its own answer."""
    interactive = stdin.isatty()
    worst = EXIT_OK
    while True:
        if interactive:
            out.write("jdebug> ")
            out.flush()
        line = stdin.readline()
        if not line or line.strip() in ("quit", "exit"):
            return worst
        if not line.strip():
            continue
        worst = max(worst, await run_text(line.strip(), service, out, files=files))
        out.flush()
