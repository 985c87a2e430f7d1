"""Fixtures for the Slack frontend: the fake Slack, a real bot (`BotServer`, built as
`jdebug serve` builds it) connected to it, and a backend that records what it was asked.

`RecordingBackend` wraps the real `LocalBackend`; it only counts calls, so a test can say
"nothing ran" about a request that must be refused before it reaches a JVM.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest
import pytest_asyncio
import structlog

from bot.backends.protocols import Created, Strategy, Unavailable
from bot.jvm.agent import AgentCall
from bot.local.strategy import LocalBackend, LocalTarget
from bot.logs import configure_logging
from bot.model.request import Request
from bot.model.results import AgentOutput
from bot.session.backends import Backends
from bot.session.service import JdebugService
from bot.settings import JdebugSettings
from handlers.slack.app import BotServer
from handlers.slack.settings import SlackSettings
from tests.fakeslack import FakeSlack, Message
from tests.fakeslack.fixtures import fake_slack
from tests.support.settings import serve_settings

__all__ = ["fake_slack"]

# Bob is in the fake workspace but on no allow-list unless a test puts him there; Carol is
# in neither unless a test adds her.
ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00002", "U0CAROL003"


class RecordingStrategy:
    def __init__(self, inner: Strategy[LocalTarget, Any], ran: list[Request]) -> None:
        self.inner = inner
        self.name = inner.name
        self.ran = ran

    async def check(self, request: Request, target: LocalTarget) -> Any:
        plan = await self.inner.check(request, target)
        if not isinstance(plan, Unavailable):
            plan = (request, plan)
        return plan

    async def run(self, plan: Any, call: AgentCall, created: Created) -> AgentOutput:
        request, inner_plan = plan
        self.ran.append(request)
        return await self.inner.run(inner_plan, call, created)

    async def cleanup(self, created: Created) -> str:
        return await self.inner.cleanup(created)


class RecordingBackend:
    """The real local backend, remembering every resolve and every diagnostic it ran."""

    name = "local"

    def __init__(self, inner: LocalBackend | None = None) -> None:
        self.inner = inner or LocalBackend()
        self.resolved: list[Request] = []
        self.ran: list[Request] = []

    async def resolve(self, request: Request) -> LocalTarget:
        self.resolved.append(request)
        return await self.inner.resolve(request)

    async def resolve_all(self, request: Request) -> Any:
        return await self.inner.resolve_all(request)

    def strategies(self) -> Sequence[Strategy[LocalTarget, Any]]:
        return [RecordingStrategy(s, self.ran) for s in self.inner.strategies()]


def bot_settings(slack: FakeSlack, **overrides: Any) -> tuple[JdebugSettings, SlackSettings]:
    """Settings as the environment would give them to `jdebug serve`, aimed at the fake."""
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_app_token": slack.app_token,
        "slack_signing_secret": "test-signing-secret",
        "slack_api_url": slack.api_url,
        "allowed_users": (ALICE,),
        "health_port": 0,
        "http_port": 0,
        "shutdown_grace_seconds": 10,
    }
    values.update(overrides)
    return serve_settings(**values)


StartBot = Callable[..., Awaitable[BotServer]]


@pytest_asyncio.fixture
async def start_bot(fake_slack: FakeSlack) -> AsyncIterator[StartBot]:
    """`await start_bot(backend=..., **settings)`: a started BotServer, shut down afterwards.

    In Socket Mode it returns once the bot's websocket is connected to the fake.
    """
    servers: list[BotServer] = []

    async def start(backend: Any = None, **overrides: Any) -> BotServer:
        core, slack = bot_settings(fake_slack, **overrides)
        backends = Backends(backend if backend is not None else RecordingBackend(), {})
        server = BotServer(core, slack, backends)
        connected = len(fake_slack.connections)
        await server.start()
        servers.append(server)
        if slack.slack_mode == "socket":
            await fake_slack.wait_for_connections(connected + 1)
        return server

    yield start
    for server in servers:
        await server.shutdown()


def all_text(message: Message) -> str:
    """The message's fallback text and every text in its blocks."""
    parts = [message.text]
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)


async def final_answer(
    slack: FakeSlack,
    user: str,
    marks: Sequence[str] = ("✖", "ended"),
    *,
    ephemeral: bool = True,
    timeout: float = 120,
) -> str:
    """What `user` was finally told: their first ephemeral answer (unless `ephemeral` is
    False), else the text (`all_text`) of the parent message requested by them, once it
    shows one of `marks`: a result ("ended" in its cleanup line) or a failure ("✖")."""

    def told(s: FakeSlack) -> str | None:
        if ephemeral:
            for response in s.responses:
                if response.user_id == user:
                    return response.text
        for message in s.top_level_messages():
            text = all_text(message)
            if f"requested by <@{user}>" in text and any(mark in text for mark in marks):
                return text
        return None

    answer: str = await slack.wait_for(told, timeout=timeout)
    return answer


def running_tasks() -> set[asyncio.Task[Any]]:
    """The loop's unfinished tasks but the caller's own."""
    return {t for t in asyncio.all_tasks() if not t.done()} - {asyncio.current_task()}  # type: ignore[misc]


async def wait_until_idle(
    service: JdebugService, before: set[asyncio.Task[Any]] | None = None, timeout: float = 60
) -> None:
    """Wait until the bot has nothing left to do: every limiter permit back (a run releases
    its own after its last Slack call), no request in flight, and, given `before` (taken
    with `running_tasks()`), no task left of those started since: Bolt runs each listener
    as a task of its own."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        tasks_done = before is None or running_tasks() <= before
        if service.limiter.admitted == 0 and not service.inflight and tasks_done:
            return
        await asyncio.sleep(0.01)
    left = running_tasks() - before if before is not None else set()
    raise AssertionError(
        f"not idle after {timeout} s: {service.limiter.admitted} permits held, "
        f"{len(service.inflight)} requests in flight, tasks {left}"
    )


@contextlib.contextmanager
def captured_json_logs(level: str = "info") -> Iterator[io.StringIO]:
    """jdebug's real logging set-up (JSON lines at `level`) writing into a buffer."""
    saved = structlog.get_config()
    buffer = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = buffer  # configure_logging binds the stream it finds here
    try:
        configure_logging(level=level, fmt="json")
    finally:
        sys.stderr = real_stderr
    try:
        yield buffer
    finally:
        structlog.configure(**saved)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    with captured_json_logs() as buffer:
        yield buffer


def log_records(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def audit_records(
    buffer: io.StringIO, count: int = 1, timeout: float = 30
) -> list[dict[str, Any]]:
    """The audit records once there are `count`: each is written just after the request's
    last Slack call, so waiting on the fake Slack's changes would miss it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        audits = [r for r in log_records(buffer) if r.get("event") == "audit"]
        if len(audits) >= count or asyncio.get_running_loop().time() > deadline:
            return audits
        await asyncio.sleep(0.02)
