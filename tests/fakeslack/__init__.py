"""A fake Slack for tests: the real slack_sdk / slack_bolt clients talk to it unmodified.

`async with FakeSlack() as slack:` starts one aiohttp server on 127.0.0.1; pass `slack.api_url`
as `base_url`. Other test folders get the `fake_slack` fixture with
`pytest_plugins = ["tests.fakeslack.fixtures"]` in their conftest.py.

Where each format comes from (read, never copied):
- Web API answers: the "typical success response" / error tables at
  docs.slack.dev/reference/methods/<name> for auth.test, apps.connections.open, chat.postMessage,
  chat.update (msg_too_long, message_not_found), chat.postEphemeral (message_ts),
  files.getUploadURLExternal (upload_url, file_id), files.completeUploadExternal (files, "can
  only be called once"), views.publish (view), users.info (user.profile.email).
- Request parsing (query string + JSON/form body, `Authorization: Bearer`), auth.test fields
  and `invalid_auth`: bolt-python tests/mock_web_api_server/mock_handler.py; slack_sdk
  web/async_client.py (which call sends `params` vs `json`) and web/async_internal_utils.py
  (the upload URL answer must be `text/plain`; JSON otherwise).
- Upload flow: slack_sdk web/async_client.py `files_upload_v2` (getUploadURLExternal per file,
  raw-bytes POST to upload_url needing 200, one completeUploadExternal with `files` JSON).
- 429 + `Retry-After` + `ratelimited`: docs.slack.dev/apis/web-api/rate-limits and slack_sdk
  http_retry/builtin_async_handlers.py (reads `Retry-After`; retries 500/503 separately).
- Socket Mode: docs.slack.dev/apis/events-api/using-socket-mode; hello / disconnect / envelope
  shapes from slack_sdk tests/slack_sdk/socket_mode/mock_socket_mode_server.py and bolt-python
  tests/adapter_tests/socket_mode/mock_socket_mode_server.py; ws URL `/link/?ticket=…&app_id=…`
  as in bolt-python tests/adapter_tests/socket_mode/mock_web_api_server.py; ack handling from
  slack_sdk socket_mode/aiohttp/__init__.py and socket_mode/async_client.py.
- Payloads (slash command fields, block_actions, event_callback): see payloads.py.
- HTTP mode deliveries (form / `payload=` / JSON bodies, v0 signatures): see http_mode.py.

- What Slack refuses, with its sources: blocks.py (schema of npm @slack/types, slack_sdk's
  models, limits.py), channels.py, scopes.py, rate_limits.py, socket_mode.py; what it would
  resolve as a mention: mentions.py.

Behaviour the fake had to choose because Slack does not document it:
- No snippet size limit: none is documented for files.getUploadURLExternal (the former
  1,000,000-byte `snippet_too_large` came from the bot's own notes and was dropped).
- chat.update refuses `text` over 40,000 characters with `msg_too_long` (its error table names
  the error without a number; 40,000 is the documented message limit).
- chat.postMessage bursts: 5 per channel, then one per second (limits: rate_limits.py).
- The 11th Socket Mode connection is refused (HTTP 409), as is any after `link_disabled`.
- Invalid blocks in an ack or response_url post: the ack records `refusal`; the response_url
  answers 400 with the error as text.
- files.completeUploadExternal for an unknown, already-completed or never-uploaded file id →
  `file_not_found`; its `files[].channels` is empty because Slack shares asynchronously.
- chat.postMessage truncates text beyond 40,000 characters (documented) rather than refusing.
- response_url answers `ok` (text/plain), 404 `used_url` after 5 posts, 404 for unknown URLs.
- HTTP 500 / 503 faults carry `fatal_error` / `service_unavailable` in a JSON body.
- An app token on any method but apps.connections.open, or a bot token on it →
  `not_allowed_token_type`.
"""

from tests.fakeslack.channels import Channel
from tests.fakeslack.faults import RESPONSE_URL, UPLOAD
from tests.fakeslack.http_mode import HttpDelivery, Signing, slack_signature
from tests.fakeslack.mentions import Mention
from tests.fakeslack.rate_limits import ManualClock
from tests.fakeslack.records import (
    Ack,
    Call,
    Connection,
    Envelope,
    Ephemeral,
    HomeView,
    Identity,
    Message,
    ResponsePost,
    UploadedFile,
    User,
)
from tests.fakeslack.server import DEFAULT_CHANNEL, FakeSlack
from tests.fakeslack.socket_mode import OperationTimeout

__all__ = [
    "DEFAULT_CHANNEL",
    "RESPONSE_URL",
    "UPLOAD",
    "Ack",
    "Call",
    "Channel",
    "Connection",
    "Envelope",
    "Ephemeral",
    "FakeSlack",
    "HomeView",
    "HttpDelivery",
    "Identity",
    "ManualClock",
    "Mention",
    "Message",
    "OperationTimeout",
    "ResponsePost",
    "Signing",
    "UploadedFile",
    "User",
    "slack_signature",
]
