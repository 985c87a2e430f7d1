"""What the fake Slack remembers: one frozen record per call, message, file, reply and ack.

Tests assert on these instead of on the bot's internals, so the records keep Slack's own
vocabulary (channel, ts, thread_ts, envelope_id) and the exact bytes and payloads received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """The workspace, app and bot the fake pretends to be, and the only tokens it accepts."""

    bot_token: str = "xoxb-1111111111-2222222222-fakebottoken"
    app_token: str = "xapp-1-A0JDEBUG01-3333333333-fakeapptoken"
    team_id: str = "T0FAKE0001"
    team_domain: str = "fake-jdebug"
    team_name: str = "Fake jdebug Workspace"
    app_id: str = "A0JDEBUG01"
    bot_user_id: str = "U0JDEBUGBOT"
    bot_id: str = "B0JDEBUG01"
    bot_name: str = "jdebug"
    verification_token: str = "fake-verification-token"


@dataclass(frozen=True)
class User:
    """A workspace member as `users.info` describes them."""

    id: str
    name: str
    email: str | None = None
    real_name: str = ""
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/Amsterdam"


@dataclass(frozen=True)
class Call:
    """One HTTP request to the Web API (or the upload / response_url endpoints) and its answer."""

    method: str
    params: Mapping[str, Any]
    headers: Mapping[str, str]
    at: float  # time.monotonic() when the request arrived
    status: int
    response: Mapping[str, Any] | None  # None when the answer was not JSON
    response_headers: Mapping[str, str] = field(default_factory=dict)  # e.g. Retry-After


@dataclass(frozen=True)
class MessageVersion:
    text: str
    blocks: list[JsonDict]
    at: float


@dataclass(frozen=True)
class Message:
    """A message as it stands now; `history` holds what `chat.update` replaced, oldest first."""

    channel: str
    ts: str
    text: str
    blocks: list[JsonDict]
    thread_ts: str | None
    user: str
    bot_id: str
    posted_at: float
    history: tuple[MessageVersion, ...] = ()
    # Files a person shared with the message (`add_user_message`), as Slack's file objects.
    files: tuple[JsonDict, ...] = ()

    @property
    def update_count(self) -> int:
        return len(self.history)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass(frozen=True)
class UploadedFile:
    """A file from `files.getUploadURLExternal` on; `channel` is set once it was completed."""

    id: str
    filename: str
    length_declared: int
    snippet_type: str | None
    alt_txt: str | None
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False

    @property
    def text(self) -> str:
        return (self.data or b"").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Ephemeral:
    """A `chat.postEphemeral` message, seen only by `user`."""

    channel: str
    user: str
    text: str
    blocks: list[JsonDict]
    thread_ts: str | None
    message_ts: str
    at: float


@dataclass(frozen=True)
class ResponseUrl:
    """A `response_url` the fake handed out with a command or an interaction."""

    url: str
    channel_id: str
    user_id: str


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a `response_url` (what Bolt's `respond()` sends)."""

    url: str
    channel_id: str
    user_id: str
    body: JsonDict
    at: float

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))

    @property
    def blocks(self) -> list[JsonDict]:
        blocks = self.body.get("blocks")
        return blocks if isinstance(blocks, list) else []

    @property
    def ephemeral(self) -> bool:
        # Slack's default for response_url posts is ephemeral.
        return str(self.body.get("response_type", "ephemeral")) == "ephemeral"


@dataclass(frozen=True)
class Envelope:
    """A Socket Mode envelope as sent to the app."""

    envelope_id: str
    type: str
    payload: JsonDict
    accepts_response_payload: bool
    connection: int
    sent_at: float
    # events_api only: 0 and "" on the first delivery, then 1, 2, 3 and "timeout".
    retry_attempt: int | None = None
    retry_reason: str | None = None

    def wire(self) -> JsonDict:
        body: JsonDict = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.retry_attempt is not None:
            body["retry_attempt"] = self.retry_attempt
            body["retry_reason"] = self.retry_reason or ""
        return body


@dataclass(frozen=True)
class Ack:
    """The app's acknowledgement of an envelope, with how long it took to arrive."""

    envelope_id: str
    type: str
    payload: JsonDict | None
    elapsed: float  # seconds from sending the envelope to receiving the ack
    connection: int
    # What Slack would answer about a payload it cannot show (e.g. "invalid_blocks"), or None.
    refusal: str | None = None


@dataclass(frozen=True)
class HomeView:
    user_id: str
    view: JsonDict
    at: float


@dataclass(frozen=True)
class Connection:
    """A Socket Mode websocket the app opened with a ticket from `apps.connections.open`."""

    id: int
    ticket: str
    opened_at: float
    closed_at: float | None = None
    # The app's end of the TCP connection (its local port), to tell which process opened it.
    peer_port: int | None = None
