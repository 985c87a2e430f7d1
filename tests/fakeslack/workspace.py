"""The fake workspace's state: all that was posted, uploaded and acknowledged, and waiting on it.

The Web API and Socket Mode halves both write here; tests read it through `FakeSlack`, which is a
`Workspace` with servers attached. Every change wakes `wait_for`, so tests never sleep-poll.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import time
from collections.abc import Callable
from typing import TypeVar

from tests.fakeslack.channels import Channel
from tests.fakeslack.mentions import Mention
from tests.fakeslack.records import (
    Ack,
    Call,
    Envelope,
    Ephemeral,
    HomeView,
    Identity,
    Message,
    ResponsePost,
    ResponseUrl,
    UploadedFile,
    User,
)

T = TypeVar("T")

DEFAULT_USERS = (
    User(id="U0ALICE001", name="alice", email="alice@example.com", real_name="Alice Example"),
    User(id="U0BOB00002", name="bob", email="bob@example.com", real_name="Bob Example"),
)

DEFAULT_CHANNEL = "C0OPS00001"
DEFAULT_CHANNEL_NAME = "ops"

_ID_ALPHABET = string.ascii_uppercase + string.digits


def slack_id(prefix: str, length: int = 10) -> str:
    """An ID shaped like Slack's: a type letter then upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class Workspace:
    """Recorded state of the fake Slack workspace."""

    def __init__(
        self,
        identity: Identity,
        users: tuple[User, ...] | list[User],
        channels: tuple[Channel, ...] | list[Channel] | None = None,
    ) -> None:
        self.identity = identity
        self.users: dict[str, User] = {u.id: u for u in users}
        if channels is None:  # #ops: public, with everyone in it, the bot included
            members = frozenset({*self.users, identity.bot_user_id})
            channels = (Channel(DEFAULT_CHANNEL, DEFAULT_CHANNEL_NAME, members=members),)
        self.channels: dict[str, Channel] = {c.id: c for c in channels}
        # Every mention Slack would resolve in any text the fake received, in arrival order.
        self.mentions: list[Mention] = []
        self.calls: list[Call] = []
        self.messages: dict[str, Message] = {}  # by ts
        self.files: dict[str, UploadedFile] = {}  # completed uploads by file id
        self.pending_uploads: dict[str, UploadedFile] = {}  # URL issued, not completed yet
        self.ephemeral: list[Ephemeral] = []
        self.responses: list[ResponsePost] = []
        self.response_urls: dict[str, ResponseUrl] = {}  # by the secret path part
        self.home_views: dict[str, HomeView] = {}  # by user id
        # User groups (S…) and their members, for usergroups.users.list.
        self.usergroups: dict[str, list[str]] = {}
        # Bytes of files people shared (add_user_message), by file id, behind url_private.
        self.shared_files: dict[str, bytes] = {}
        self.envelopes: list[Envelope] = []
        self.acks: list[Ack] = []
        self._last_ts_micros = 0
        self._changed = asyncio.Event()

    # --- recording -------------------------------------------------------------------------

    def changed(self) -> None:
        """Wake every `wait_for`; called after each state change."""
        self._changed.set()
        self._changed = asyncio.Event()

    def next_ts(self) -> str:
        """A message ts like Slack's ("1732890000.000100"): unique and increasing."""
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def add_user(self, user: User) -> None:
        self.users[user.id] = user

    def add_channel(
        self, channel_id: str, name: str, *, private: bool = False, members: tuple[str, ...] = ()
    ) -> Channel:
        """Declare a channel; the bot is in it only if `members` holds `identity.bot_user_id`."""
        channel = Channel(channel_id, name, private, frozenset(members))
        self.channels[channel.id] = channel
        return channel

    def channel_name(self, channel_id: str) -> str:
        channel = self.channels.get(channel_id)
        return channel.name if channel is not None else "unknown"

    # --- queries -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def ok_calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls_to(method) if c.response is not None and c.response["ok"]]

    def top_level_messages(self, channel: str | None = None) -> list[Message]:
        return [
            m
            for m in self.messages.values()
            if not m.is_reply and (channel is None or m.channel == channel)
        ]

    def replies(self, thread_ts: str) -> list[Message]:
        return [m for m in self.messages.values() if m.is_reply and m.thread_ts == thread_ts]

    def files_in_thread(self, thread_ts: str) -> list[UploadedFile]:
        return [f for f in self.files.values() if f.thread_ts == thread_ts]

    def ephemeral_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemeral if e.user == user]

    def mentions_other_than(self, *allowed: str) -> list[Mention]:
        """Mentions whose raw form is none of `allowed` (e.g. the requester's `<@U0ALICE001>`)."""
        return [m for m in self.mentions if m.raw not in allowed]

    def summary(self) -> str:
        """One line per recorded thing; shown when a `wait_for` times out."""
        lines = [f"calls: {[f'{c.method}->{c.status}' for c in self.calls]}"]
        lines += [f"message {m.ts} in {m.channel}: {m.text[:80]!r}" for m in self.messages.values()]
        lines += [
            f"file {f.id} {f.filename} in {f.channel}/{f.thread_ts}" for f in self.files.values()
        ]
        lines += [f"ephemeral to {e.user}: {e.text[:80]!r}" for e in self.ephemeral]
        lines += [f"response_url post: {r.text[:80]!r}" for r in self.responses]
        return "\n".join(lines)

    # --- waiting -----------------------------------------------------------------------------

    async def wait_for(self, condition: Callable[[Workspace], T], *, timeout: float = 5.0) -> T:
        """Wait until `condition(self)` is truthy and return its value; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition(self)
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"fake Slack: condition not met within {timeout}s; recorded so far:\n"
                    + self.summary()
                )
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=remaining)
            except TimeoutError:
                continue
