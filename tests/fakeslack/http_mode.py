"""Slack → app over HTTP: POST a signed slash command, interaction or event to the app's URL.

Signing follows Slack's "Verifying requests from Slack" (`v0:{timestamp}:{body}`, HMAC-SHA256,
`X-Slack-Signature: v0=<hex>`), computed with slack_sdk's own `SignatureVerifier`. Bodies are
encoded as Slack sends them: slash commands form-encoded, interactions as `payload=<json>`,
events as JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakeslack.records import JsonDict

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
        good = SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": self.signature or good or ""}


def slash_command_body(payload: JsonDict) -> tuple[str, str]:
    return urlencode({k: str(v) for k, v in payload.items()}), FORM


def interactive_body(payload: JsonDict) -> tuple[str, str]:
    return urlencode({"payload": json.dumps(payload)}), FORM


def event_body(payload: JsonDict) -> tuple[str, str]:
    return json.dumps(payload), "application/json"


async def deliver(url: str, body: str, content_type: str, signing: Signing) -> HttpDelivery:
    headers = {"Content-Type": content_type, **signing.headers(body)}
    started = time.monotonic()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=headers) as response,
    ):
        text = await response.text()
    return HttpDelivery(response.status, text, time.monotonic() - started)
