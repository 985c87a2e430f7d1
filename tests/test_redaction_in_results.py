"""Secrets in a JVM's command line and system properties never reach a result: not the
summary, not the snippets, not the terminal rendering; the summary says how many went."""

from __future__ import annotations

import io

import pytest

from bot.commands.grammar import parse_command
from bot.local.strategy import LocalBackend
from bot.model.request import Request
from bot.model.results import StepOutput
from bot.redaction.redactor import Redactor
from bot.session.run import redact_steps, run_request
from handlers.terminal import run_text
from tests.support.settings import terminal_service

SECRETS = ("hunter2", "abc123", "s3cr3t", "AKIAXYZ")
JVM_ARGS = (
    "-Ddb.password=hunter2",
    "-Dapi.token=abc123",
    "-Djdbc.url=jdbc:postgresql://app:s3cr3t@db:5432/x?password=pw",
    "-DAWS_SECRET_ACCESS_KEY=AKIAXYZ",
    "-Dkey.store.type=jks",
)


def request(text: str) -> Request:
    parsed = parse_command(text)
    assert isinstance(parsed, Request)
    return parsed


@pytest.mark.parametrize("tool", ["sysprops", "jps", "flags"])
async def test_secrets_are_redacted_from_every_output_and_counted(cowweb_factory, tool):
    jvm = cowweb_factory(25, jvm_args=JVM_ARGS)
    result = await run_request(request(f"{tool} pid={jvm.pid}"), LocalBackend())
    analysis = result.analysis
    everything = "\n".join(
        [
            *(s.text for s in result.raw.steps),
            analysis.headline,
            *analysis.findings,
            *analysis.notes,
            result.target,
        ]
    )
    for secret in SECRETS:
        assert secret not in everything, f"{secret} leaked from {tool}"
    assert "password=pw" not in everything
    if tool in ("sysprops", "jps"):
        assert "jks" in "".join(s.text for s in result.raw.steps)  # not secret, kept
        assert any(n.endswith("redacted") for n in analysis.notes)
    out = io.StringIO()
    await run_text(
        f"{tool} pid={jvm.pid}", terminal_service(LocalBackend()), out, err=io.StringIO()
    )
    assert not any(secret in out.getvalue() for secret in SECRETS)


def test_output_with_nothing_to_redact_is_kept_as_the_same_text_not_a_copy():
    # A 50 MB thread dump must not be held twice just to find it holds no secret.
    dump = '"worker-1" #12 prio=5 os_prio=0 tid=0x1 nid=0x2 waiting on condition\n' * 1000
    steps = (StepOutput("threaddump", 7, 0, dump),)
    assert Redactor.default().redact(dump, "threaddump") == (dump, 0)
    assert Redactor.default().redact(dump, "threaddump")[0] is dump
    kept, count = redact_steps(steps, "threaddump")
    assert count == 0 and kept[0] is steps[0]
