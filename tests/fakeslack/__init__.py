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

Behaviour the fake had to choose because Slack does not document it:
- `snippet_type` with length > 1,000,000 bytes → `snippet_too_large` from
  files.getUploadURLExternal (Slack's help centre states a 1 MB snippet limit; its error table
  does not name the error). The stricter decimal MB keeps the bot on the safe side.
- files.completeUploadExternal for an unknown, already-completed or never-uploaded file id →
  `file_not_found`; its `files[].channels` is empty because Slack shares asynchronously.
- chat.postMessage truncates text beyond 40,000 characters (documented) rather than refusing.
- response_url answers `ok` (text/plain), 404 `used_url` after 5 posts, 404 for unknown URLs.
- HTTP 500 / 503 faults carry `fatal_error` / `service_unavailable` in a JSON body.
- An app token on any method but apps.connections.open, or a bot token on it →
  `not_allowed_token_type`.
"""

from tests.fakeslack.faults import RESPONSE_URL, UPLOAD
from tests.fakeslack.http_mode import HttpDelivery, Signing
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

__all__ = [
    "DEFAULT_CHANNEL",
    "RESPONSE_URL",
    "UPLOAD",
    "Ack",
    "Call",
    "Connection",
    "Envelope",
    "Ephemeral",
    "FakeSlack",
    "HomeView",
    "HttpDelivery",
    "Identity",
    "Message",
    "ResponsePost",
    "Signing",
    "UploadedFile",
    "User",
]
