"""`FakeSlack`: one aiohttp server on 127.0.0.1 serving the Web API, uploads, response_urls and
Socket Mode, plus the test-side controls (send envelopes, inject faults, wait for effects).

Use it as `async with FakeSlack() as slack:` and point the real clients at `slack.api_url`.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from types import TracebackType

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakeslack import http_mode, limits, payloads
from tests.fakeslack.channels import Channel
from tests.fakeslack.faults import FaultPlan
from tests.fakeslack.http_mode import HttpDelivery, Signing
from tests.fakeslack.mentions import mentions_in_message
from tests.fakeslack.rate_limits import Clock, RateLimits
from tests.fakeslack.records import (
    Ack,
    Connection,
    Identity,
    JsonDict,
    Message,
    ResponseUrl,
    User,
)
from tests.fakeslack.scopes import manifest_scopes
from tests.fakeslack.socket_mode import SocketHub
from tests.fakeslack.web_api import WebApi
from tests.fakeslack.workspace import DEFAULT_CHANNEL, DEFAULT_USERS, Workspace, slack_id

__all__ = ["DEFAULT_CHANNEL", "FakeSlack"]


class FakeSlack(Workspace):
    """An in-process Slack that the unmodified slack_sdk / slack_bolt clients talk to."""

    def __init__(
        self,
        *,
        identity: Identity | None = None,
        users: tuple[User, ...] | list[User] = DEFAULT_USERS,
        bot_token: str | None = None,
        app_token: str | None = None,
        channels: tuple[Channel, ...] | list[Channel] | None = None,
        scopes: tuple[str, ...] | None = None,
        clock: Clock = time.monotonic,
        rate_limits: bool = True,
        event_retry_delays: tuple[float, ...] = limits.EVENT_RETRY_DELAYS_S,
        any_token: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`channels`: the workspace's channels (default: #ops, public, everyone in it);
        `scopes`: the bot scopes installed (default: what deploy/slack-app-manifest.yaml
        grants); `clock`: what the rate limits measure time with (a `ManualClock` stops
        them refilling); `event_retry_delays`: when unacknowledged events are sent again."""
        ident = identity or Identity()
        if bot_token is not None:
            ident = replace(ident, bot_token=bot_token)
        if app_token is not None:
            ident = replace(ident, app_token=app_token)
        super().__init__(ident, users, channels)
        self.scopes = manifest_scopes() if scopes is None else tuple(scopes)
        self.faults = FaultPlan()
        self.rate_limits = RateLimits(clock, enabled=rate_limits)
        self.socket = SocketHub(self, self._origin, event_retry_delays)
        self.web = WebApi(
            self,
            self.faults,
            self._origin,
            self.socket.issue_url,
            scopes=self.scopes,
            rate_limits=self.rate_limits,
            any_token=any_token,
        )
        self._host, self._want_port = host, port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=200 * 1024 * 1024)  # uploads of large dumps
        app.add_routes(self.web.routes() + self.socket.routes())
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._want_port).start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self.socket.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _origin(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started; use `async with FakeSlack() as slack:`")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return int(self._origin().rsplit(":", 1)[1])

    @property
    def api_url(self) -> str:
        """The `base_url` for `AsyncWebClient`, e.g. `http://127.0.0.1:PORT/api/`."""
        return f"{self._origin()}/api/"

    @property
    def bot_token(self) -> str:
        return self.identity.bot_token

    @property
    def app_token(self) -> str:
        return self.identity.app_token

    def client(self, **kwargs: object) -> AsyncWebClient:
        """A real `AsyncWebClient` with the bot token, pointed at this fake."""
        return AsyncWebClient(token=self.bot_token, base_url=self.api_url, **kwargs)  # type: ignore[arg-type]

    # --- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
        drop: bool = False,
    ) -> None:
        """Answer the next `times` calls to `method` with an error instead, once `after`
        calls have gone through normally; `drop=True` closes the connection unanswered.

        `status=429` → HTTP 429 + `Retry-After` + `ratelimited`; `status=500/503` → that status;
        `error="not_in_channel"` → HTTP 200 with `ok: false`. `method` may also be
        `faults.UPLOAD` or `faults.RESPONSE_URL`.
        """
        self.faults.fail_next(
            method,
            status=status,
            error=error,
            retry_after=retry_after,
            times=times,
            after=after,
            drop=drop,
        )

    def delay(self, method: str, seconds: float) -> None:
        """Answer every call to `method` `seconds` late (0 turns it off)."""
        self.faults.delay(method, seconds)

    # --- things Slack hands to the app -------------------------------------------------------

    def response_url(self, channel_id: str = DEFAULT_CHANNEL, user_id: str = "U0ALICE001") -> str:
        """A fresh response_url on this fake, like `https://hooks.slack.com/commands/T…/…/…`."""
        secret = slack_id("", 24)
        n = len(self.response_urls) + 1
        url = f"{self._origin()}/commands/{self.identity.team_id}/{n}/{secret}"
        self.response_urls[secret] = ResponseUrl(url, channel_id, user_id)
        return url

    def _user(self, user_id: str) -> User:
        return self.users.get(user_id) or User(id=user_id, name=user_id.lower())

    @property
    def connections(self) -> list[Connection]:
        return self.socket.connections

    async def wait_for_connections(
        self, count: int = 1, *, timeout: float = 5.0
    ) -> list[Connection]:
        await self.wait_for(lambda _: len(self.socket.connections) >= count, timeout=timeout)
        return self.socket.connections

    def slash_command_payload(
        self,
        command: str = "/jdebug",
        text: str = "",
        user_id: str = "U0ALICE001",
        channel_id: str = DEFAULT_CHANNEL,
    ) -> JsonDict:
        """What Slack sends for `<command> <text>` typed by `user_id` in `channel_id`."""
        return payloads.slash_command(
            self.identity,
            command=command,
            text=text,
            user=self._user(user_id),
            channel_id=channel_id,
            channel_name=self.channel_name(channel_id),
            response_url=self.response_url(channel_id, user_id),
        )

    async def send_slash_command(
        self,
        *,
        command: str = "/jdebug",
        text: str = "",
        user_id: str = "U0ALICE001",
        channel_id: str = DEFAULT_CHANNEL,
        connect_timeout: float = 5.0,
        connection: int | None = None,
    ) -> Ack:
        """Deliver a `slash_commands` envelope to one connected app (the open `connection`
        given, else the next in turn) and return its ack."""
        return await self.socket.send(
            "slash_commands",
            self.slash_command_payload(command, text, user_id, channel_id),
            accepts_response_payload=True,
            connect_timeout=connect_timeout,
            connection=connection,
        )

    async def send_interactive(
        self,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = False,
        connect_timeout: float = 5.0,
    ) -> Ack:
        """Deliver an `interactive` envelope (block_actions, view_submission, ...) as given."""
        return await self.socket.send(
            "interactive",
            payload,
            accepts_response_payload=accepts_response_payload,
            connect_timeout=connect_timeout,
        )

    async def send_event(self, event: JsonDict, *, connect_timeout: float = 5.0) -> Ack:
        """Deliver an `events_api` envelope wrapping `event` (e.g. `app_home_opened`)."""
        return await self.socket.send(
            "events_api",
            payloads.event_callback(self.identity, event),
            accepts_response_payload=False,
            connect_timeout=connect_timeout,
        )

    async def click_button(
        self,
        message_ts: str,
        action_id: str,
        *,
        user_id: str = "U0ALICE001",
    ) -> Ack:
        """Click the button `action_id` on a message the app posted, as Slack reports it."""
        message = self.messages[message_ts]
        block_id, button = payloads.find_button(message, action_id)
        payload = payloads.block_actions(
            self.identity,
            user=self._user(user_id),
            message=message,
            message_json=self.web.messages.message_json(message),
            block_id=block_id,
            button=button,
            channel_name=self.channel_name(message.channel),
            response_url=self.response_url(message.channel, user_id),
        )
        return await self.send_interactive(payload)

    def add_usergroup(self, group_id: str, members: tuple[str, ...] | list[str]) -> None:
        """A user group (S…) with these members, as usergroups.users.list answers it."""
        self.usergroups[group_id] = list(members)

    def add_user_message(
        self,
        text: str,
        *,
        user_id: str = "U0ALICE001",
        channel_id: str = DEFAULT_CHANNEL,
        files: tuple[tuple[str, bytes], ...] = (),
    ) -> Message:
        """A message a person posted (not the bot), with the files they shared in it."""
        ts = self.next_ts()
        shared = []
        for name, data in files:
            file_id = slack_id("F")
            self.shared_files[file_id] = data
            url = f"{self._origin()}/files-pri/{self.identity.team_id}-{file_id}"
            shared.append(
                {
                    "id": file_id,
                    "name": name,
                    "title": name,
                    "mimetype": "text/plain",
                    "filetype": "text",
                    "size": len(data),
                    "user": user_id,
                    "url_private": f"{url}/{name}",
                    "url_private_download": f"{url}/download/{name}",
                }
            )
        message = Message(
            channel=channel_id,
            ts=ts,
            text=text,
            blocks=[],
            thread_ts=None,
            user=user_id,
            bot_id="",
            posted_at=time.monotonic(),
            files=tuple(shared),
        )
        self.messages[ts] = message
        self.changed()
        return message

    async def send_message_shortcut(
        self, callback_id: str, message_ts: str, *, user_id: str = "U0ALICE001"
    ) -> Ack:
        """Run a message shortcut on a message, as Slack delivers it: a `message_action`
        payload (docs.slack.dev/interactivity/implementing-shortcuts, "Message shortcuts")."""
        message = self.messages[message_ts]
        user = self._user(user_id)
        payload = {
            "type": "message_action",
            "token": self.identity.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.identity.team_id, "domain": self.identity.team_domain},
            "user": {"id": user.id, "name": user.name, "team_id": self.identity.team_id},
            "channel": {"id": message.channel, "name": self.channel_name(message.channel)},
            "callback_id": callback_id,
            "trigger_id": payloads.trigger_id(),
            "message_ts": message.ts,
            "message": self.web.messages.message_json(message),
            "response_url": self.response_url(message.channel, user_id),
        }
        return await self.send_interactive(payload)

    async def send_disconnect(
        self,
        reason: str = "refresh_requested",
        *,
        connection: int | None = None,
        close_after: float | None = None,
    ) -> None:
        """Send `disconnect` with `reason` (warning, refresh_requested, link_disabled) to one
        (or every) connection; optionally close it `close_after` s later. After
        `link_disabled` the fake refuses new connections, as Slack does once Socket Mode is off."""
        await self.socket.send_disconnect(reason, connection, close_after)

    # --- HTTP mode: Slack POSTs to the app ---------------------------------------------------

    def _heard_http_ack(self, answer: HttpDelivery) -> HttpDelivery:
        """Record the mentions in an HTTP ack: a JSON message, or plain text shown as is."""
        try:
            body = json.loads(answer.body) if answer.body else None
        except ValueError:
            body = {"text": answer.body}
        if isinstance(body, dict):
            self.mentions.extend(
                mentions_in_message("ack", body.get("text"), body.get("blocks") or [])
            )
        return answer

    async def post_slash_command_http(
        self,
        url: str,
        signing: Signing,
        *,
        command: str = "/jdebug",
        text: str = "",
        user_id: str = "U0ALICE001",
        channel_id: str = DEFAULT_CHANNEL,
    ) -> HttpDelivery:
        """POST a signed, form-encoded slash command to the app's request URL."""
        payload = self.slash_command_payload(command, text, user_id, channel_id)
        answer = await http_mode.deliver(url, *http_mode.slash_command_body(payload), signing)
        return self._heard_http_ack(answer)

    async def post_interactive_http(
        self, url: str, payload: JsonDict, signing: Signing
    ) -> HttpDelivery:
        """POST a signed `payload=<json>` interaction to the app's request URL."""
        answer = await http_mode.deliver(url, *http_mode.interactive_body(payload), signing)
        return self._heard_http_ack(answer)

    async def post_event_http(self, url: str, event: JsonDict, signing: Signing) -> HttpDelivery:
        """POST a signed Events API `event_callback` wrapping `event` to the app's request URL."""
        body = payloads.event_callback(self.identity, event)
        return await http_mode.deliver(url, *http_mode.event_body(body), signing)
