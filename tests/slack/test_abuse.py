"""Abuse through the real Bolt app: 10,000+ generated command texts, slash-command bodies and
button clicks (forged `value` JSON, oversized values, wrong types, missing fields, and clicks
on someone else's buttons for tools the clicker may not run). None may raise, each gets
its one answer (or is ignored as Slack ignores what no listener takes), and only requests
the policy allows ever reach the backend.

Most cases go through `AsyncApp.async_dispatch` with Socket Mode bodies, as
`AsyncSocketModeHandler` hands them over; a subset goes over the fake Slack's real
websocket. Payloads whose `user`, `channel` or `team` is a number fail inside Bolt's own
request parsing, before any jdebug code; Slack never sends them, so they are not generated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.commands.grammar import parse_command
from bot.model.request import Request
from bot.session.backends import Backends
from bot.session.service import JdebugService
from handlers.slack.app import build_app
from handlers.slack.blocks import RUN_ACTION_PREFIX, actions
from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack, Message, User, payloads
from tests.slack.abuse_cases import Case, click_cases, fuzz_text, slash_cases
from tests.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    RecordingBackend,
    StartBot,
    bot_settings,
    log_records,
    running_tasks,
    wait_until_idle,
)

USERS = [ALICE, ALICE, BOB, CAROL, "U0MALLORY9", ""]
POLICY = f"""\
contact: "#platform-oncall"
rules:
  - name: alice-reads-apps
    subjects: {{users: [{ALICE}]}}
    namespaces: ["apps"]
    tools: [read-only]
  - name: carol-versions-apps
    subjects: {{users: [{CAROL}]}}
    namespaces: ["apps"]
    tools: [version]
"""
# The POLICY above, read by hand (the oracle for "only allowed requests ran", so the bot's
# own policy code is not judging itself): rules name no clusters, so only users, namespaces
# and tools count. `read-only` is every catalog tool that does not change the JVM: all seven.
READ_ONLY = {"jps", "flags", "threaddump", "version", "sysprops", "heap", "histo"}
# Alice's own request; its real buttons are what the others click.
ALICE_REQUEST = "threaddump pod=cowweb ns=apps"
SLASH, CLICKS, BATCH = 5200, 5200, 400
ROUTE = re.compile(rf"^{RUN_ACTION_PREFIX}(_\w+)?$")


class ErrorRecords(logging.Handler):
    """Every standard-library record at ERROR or above (Bolt reports listener and middleware
    crashes so), and every exception an event loop saw that nobody handled."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @contextlib.contextmanager
    def watching(self, loop: asyncio.AbstractEventLoop) -> Iterator[ErrorRecords]:
        root = logging.getLogger()
        root.addHandler(self)
        previous = loop.get_exception_handler()
        loop.set_exception_handler(lambda _, context: self.emit(_loop_record(context)))
        try:
            yield self
        finally:
            root.removeHandler(self)
            loop.set_exception_handler(previous)


@pytest_asyncio.fixture
async def errors() -> AsyncIterator[ErrorRecords]:
    with ErrorRecords().watching(asyncio.get_running_loop()) as records:
        yield records


def _loop_record(context: dict[str, Any]) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": str(context.get("message")), "levelno": logging.ERROR})


@dataclasses.dataclass
class World:
    slack: FakeSlack
    app: AsyncApp
    service: JdebugService
    backend: RecordingBackend
    parent: Message

    def click(self, user: str, action_id: str | None = None) -> dict[str, Any]:
        """The block_actions body Slack sends when `user` clicks a button on Alice's message."""
        elements = self.parent.blocks[0]["elements"]
        chosen = action_id or random.Random(len(self.slack.response_urls)).choice(
            [e["action_id"] for e in elements]
        )
        block_id, button = payloads.find_button(self.parent, chosen)
        return payloads.block_actions(
            self.slack.identity,
            user=self.slack.users.get(user) or User(id=user, name=user.lower() or "nobody"),
            message=self.parent,
            message_json=self.slack.web.messages.message_json(self.parent),
            block_id=block_id,
            button=button,
            channel_name="ops",
            response_url=self.slack.response_url(DEFAULT_CHANNEL, user),
        )


def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


async def alice_message(slack: FakeSlack) -> Message:
    """A message carrying the real follow-up buttons jdebug puts under Alice's result."""
    request = parse_command(ALICE_REQUEST)
    assert isinstance(request, Request)
    block = actions(request)
    assert block is not None
    posted = await slack.client().chat_postMessage(
        channel=DEFAULT_CHANNEL, text="result", blocks=[block]
    )
    return slack.messages[str(posted["ts"])]


@pytest_asyncio.fixture
async def world(fake_slack: FakeSlack, tmp_path: Path, json_logs) -> AsyncIterator[World]:
    core, slack = bot_settings(
        fake_slack,
        policy_file=policy_file(tmp_path),
        allowed_users=(),
        # Loose enough that thousands of Alice's requests are admitted and run, so the
        # running path is abused too; the limits themselves are tested in test_limits.py.
        user_requests_per_minute=5000,
        requests_per_minute=10_000,
        max_requests_per_user=16,
        max_waiting_requests=64,
        max_concurrent_requests=16,
    )
    backend = RecordingBackend()
    app, frontend, _ = build_app(core, slack, Backends(backend, {}))
    yield World(fake_slack, app, frontend.service, backend, await alice_message(fake_slack))


async def dispatch(app: AsyncApp, body: dict[str, Any]) -> BoltResponse:
    """What AsyncSocketModeHandler does with an envelope's payload."""
    return await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))


def routed(case: Case) -> bool:
    """Whether a jdebug listener takes this body (else Bolt answers 404 and Slack shows the
    user its generic failure, as for any app that does not handle a payload)."""
    body = case.body
    if case.kind == "slash_commands":
        return body.get("command") == "/jdebug"
    if body.get("type") != "block_actions":
        return False
    acts = body.get("actions")
    first = acts[0] if isinstance(acts, list) and acts else None
    action_id = first.get("action_id") if isinstance(first, dict) else None
    # A malformed action list is acked and answered by jdebug's own middleware.
    return not isinstance(action_id, str) or bool(ROUTE.match(action_id))


def policy_allows(request: Request) -> bool:
    """POLICY, written out: Alice runs read-only tools in `apps`, Carol `version` in `apps`,
    nobody else anything. A request without ns= is judged in the bot's default namespace
    (`default`), so only an explicit ns=apps can be allowed."""
    user, tool, namespace = request.requester.user, request.tool, request.target.namespace
    if user == ALICE:
        return namespace == "apps" and tool in READ_ONLY
    if user == CAROL:
        return namespace == "apps" and tool == "version"
    return False


def assert_only_allowed_requests_ran(backend: RecordingBackend) -> None:
    """Every request the backend saw is one POLICY allows; none came from a denial."""
    for request in backend.resolved:
        assert policy_allows(request), request


def answers_by_url(slack: FakeSlack) -> Counter[str]:
    return Counter(post.url for post in slack.responses)


async def test_ten_thousand_generated_payloads_never_crash_and_denied_ones_never_run(
    world: World, errors: ErrorRecords, json_logs
) -> None:
    rng = random.Random(20261129)
    slack = world.slack

    def slash_body(text: str, user: str) -> dict[str, Any]:
        return slack.slash_command_payload(text=text, user_id=user)

    known = [ALICE_REQUEST, "version pod=cowweb ns=apps", "flags pod=cowweb", "histo ns=apps/x"]
    cases = [
        *slash_cases(rng, SLASH, USERS, slash_body),
        *click_cases(rng, CLICKS, USERS, world.click, known),
    ]
    # The click the brief names: Bob and Carol on Alice's buttons, with values untouched.
    cases += [
        Case("interactive", body, user, body["response_url"])
        for user in (BOB, CAROL)
        for element in world.parent.blocks[0]["elements"]
        for body in [world.click(user, element["action_id"])]
    ]
    rng.shuffle(cases)
    assert len(cases) >= 10_000

    before = running_tasks()
    responses: list[BoltResponse] = []
    for start in range(0, len(cases), BATCH):
        batch = cases[start : start + BATCH]
        responses += await asyncio.gather(*(dispatch(world.app, c.body) for c in batch))
    await wait_until_idle(world.service, before)

    assert [r.getMessage() for r in errors.records] == []
    levels = Counter(r.get("level") for r in log_records(json_logs))
    assert levels["error"] == levels["critical"] == 0, levels
    answered = answers_by_url(slack)
    for case, response in zip(cases, responses, strict=True):
        if not routed(case):
            assert response.status == 404, case.notes
            assert case.url is None or answered[case.url] == 0
            continue
        assert response.status == 200, (case.notes, response.body)
        if case.kind == "slash_commands":
            ack = str(json.loads(response.body)["text"])
            assert ack.startswith(("Working on", "✖", "```\nUsage", "`")), ack
            # A refusal is answered in the ack alone; an admitted one reports once more (the
            # policy admits only ns=apps, where the local backend answers "needs a cluster"
            # to the requester, so no channel message is expected).
            expected = 1 if "Working on" in ack else 0
            assert case.url is None or answered[case.url] == expected, (case.notes, ack)
        else:
            assert response.body in ("", None)
            assert case.url is None or answered[case.url] == 1, case.notes

    assert_only_allowed_requests_ran(world.backend)
    audits = [r for r in log_records(json_logs) if r.get("event") == "audit"]
    allowed = [a for a in audits if a["decision"] == "allow"]
    assert len(allowed) == len(world.backend.resolved) > 100
    denied_users = {a["user"] for a in audits if a["decision"] == "deny"}
    assert {BOB, CAROL} <= denied_users
    print(
        f"\n{len(cases)} payloads: {sum(r.status == 404 for r in responses)} not jdebug's, "
        f"{len(allowed)} ran, {len(audits) - len(allowed)} refused by policy or limits"
    )


async def test_clicks_on_alices_buttons_by_users_the_policy_denies_never_run(
    world: World, errors: ErrorRecords
) -> None:
    before = running_tasks()
    for user in (BOB, CAROL, "U0MALLORY9"):
        for element in world.parent.blocks[0]["elements"]:
            body = world.click(user, element["action_id"])
            assert (await dispatch(world.app, body)).status == 200
    await wait_until_idle(world.service, before)
    assert world.backend.resolved == []
    denials = [p for p in world.slack.responses if "#platform-oncall" in p.text]
    assert len(denials) == 3 * len(world.parent.blocks[0]["elements"])
    assert errors.records == []


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=st.text(max_size=200) | st.builds(fuzz_text, st.randoms(use_true_random=False)),
    user=st.sampled_from(USERS),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
)
def test_hypothesis_texts_and_button_values_are_answered_without_error(
    text: str, user: str, value: Any, hypothesis_world: tuple[Any, World, ErrorRecords]
) -> None:
    loop, world, errors = hypothesis_world
    before = loop.run_until_complete(_running())
    slash = world.slack.slash_command_payload(text=text, user_id=user)
    click = world.click(user)
    click["actions"][0]["value"] = value
    response = loop.run_until_complete(dispatch(world.app, slash))
    assert response.status == 200 and response.body
    assert loop.run_until_complete(dispatch(world.app, click)).status == 200
    loop.run_until_complete(wait_until_idle(world.service, before))
    assert_only_allowed_requests_ran(world.backend)
    answered = answers_by_url(world.slack)
    assert answered[click["response_url"]] == 1
    assert [r.getMessage() for r in errors.records] == []


async def _running() -> set[asyncio.Task[Any]]:
    return running_tasks()


@pytest.fixture(scope="module")
def hypothesis_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One bot for all of Hypothesis's examples, on a loop of its own (the test is sync)."""
    loop = asyncio.new_event_loop()
    slack = FakeSlack()
    loop.run_until_complete(slack.start())
    core, slack_settings = bot_settings(
        slack, policy_file=policy_file(tmp_path_factory.mktemp("policy")), allowed_users=()
    )
    backend = RecordingBackend()
    app, frontend, _ = build_app(core, slack_settings, Backends(backend, {}))
    service = frontend.service
    parent = loop.run_until_complete(alice_message(slack))
    try:
        with ErrorRecords().watching(loop) as errors:
            yield loop, World(slack, app, service, backend, parent), errors
    finally:
        loop.run_until_complete(slack.stop())
        loop.close()


async def test_a_subset_over_the_real_socket_mode_connection(
    fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path, errors: ErrorRecords
) -> None:
    backend = RecordingBackend()
    server = await start_bot(backend, policy_file=policy_file(tmp_path), allowed_users=())
    parent = await alice_message(fake_slack)
    before = running_tasks()
    rng = random.Random(7)
    texts = [fuzz_text(rng) for _ in range(150)]
    acks = await asyncio.gather(
        *(fake_slack.send_slash_command(text=t, user_id=rng.choice(USERS)) for t in texts)
    )
    assert all(a.payload and a.payload.get("text") for a in acks)
    for user in (BOB, CAROL):
        for element in parent.blocks[0]["elements"]:
            await fake_slack.click_button(parent.ts, element["action_id"], user_id=user)
    await wait_until_idle(server.service, before)
    assert errors.records == []
    assert_only_allowed_requests_ran(backend)
    clicks = [p for p in fake_slack.responses if "#platform-oncall" in p.text]
    assert len(clicks) >= 2 * len(parent.blocks[0]["elements"])
