"""Slack → app over HTTP: POST a signed slash command, interaction or event to the app's URL.

Signing follows Slack's "Verifying requests from Slack" (docs.slack.dev/authentication/
verifying-requests-from-slack: `v0:{timestamp}:{body}`, HMAC-SHA256, `X-Slack-Signature:
v0=<hex>`), computed here with hmac/hashlib, not with slack_sdk (whose verifier the app under
test uses); test_fakeslack_http.py checks it against the doc's worked example. Bodies are
encoded as Slack sends them: slash commands form-encoded, interactions as `payload=<json>`,
events as JSON. Slack waits 3 s for the answer, which is the ack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp

from tests.fakeslack import limits
from tests.fakeslack.records import JsonDict
from tests.fakeslack.socket_mode import OperationTimeout

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class HttpDelivery:
    """The app's HTTP answer to one delivery."""

    status: int
    body: str
    elapsed: float


@dataclass(frozen=True)
class Signing:
    """How to sign: the secret, and optional tampering for tests of the app's verification."""

    secret: str
    timestamp: int | None = None  # default now; pass now - 301 for a stale request
    signature: str | None = None  # replace the correct signature, e.g. "v0=bad"
    omit_headers: bool = False

    def headers(self, body: str) -> dict[str, str]:
        if self.omit_headers:
            return {}
        ts = str(self.timestamp if self.timestamp is not None else int(time.time()))
        good = slack_signature(self.secret, ts, body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": self.signature or good}


def slack_signature(secret: str, timestamp: str, body: str) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slash_command_body(payload: JsonDict) -> tuple[str, str]:
    return urlencode({k: str(v) for k, v in payload.items()}), FORM


def interactive_body(payload: JsonDict) -> tuple[str, str]:
    return urlencode({"payload": json.dumps(payload)}), FORM


def event_body(payload: JsonDict) -> tuple[str, str]:
    return json.dumps(payload), "application/json"


async def deliver(url: str, body: str, content_type: str, signing: Signing) -> HttpDelivery:
    headers = {"Content-Type": content_type, **signing.headers(body)}
    started = time.monotonic()
    deadline = aiohttp.ClientTimeout(total=limits.ACK_DEADLINE_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=deadline) as session,
            session.post(url, data=body.encode(), headers=headers) as response,
        ):
            text = await response.text()
    except TimeoutError:
        raise OperationTimeout(
            f"fake Slack: operation_timeout: {url} did not answer within "
            f"{limits.ACK_DEADLINE_S:g} s"
        ) from None
    return HttpDelivery(response.status, text, time.monotonic() - started)
