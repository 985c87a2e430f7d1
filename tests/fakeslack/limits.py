"""Slack's documented limits, each number next to the page that states it.

These numbers are read from Slack's documentation (and, for the one undocumented total, from
Slack's own answer in an issue), never from the bot's constants: where the bot and the fake
share a number, they agree because both follow Slack, not because one copied the other.
"""

from __future__ import annotations

# --- message text --------------------------------------------------------------------------
# docs.slack.dev/reference/methods/chat.postMessage, "Truncating content": keep `text` to
# 4,000 characters at most; longer text is truncated at 40,000 characters (changelog
# 2018-04 "Truncating really long messages"). chat.update lists `msg_too_long` with no number;
# 40,000 is the only message length Slack documents, so the fake refuses above that.
TEXT_RECOMMENDED = 4_000
TEXT_TRUNCATED_AT = 40_000

# --- blocks per surface --------------------------------------------------------------------
# docs.slack.dev/reference/block-kit/blocks: "up to 50 blocks in each message, and 100 blocks
# in modals or Home tabs".
MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100

# All the text in one message's blocks: slackapi/bolt-js#2509, where a Slack engineer gives
# the limit behind `msg_blocks_too_long` as "12,000 text characters with a buffer for block
# containers" (the reporter measured 13,297). The fake refuses above 12,000 on the chat.*
# methods; bolt-js#2867 reports the same blocks going through a response_url.
MAX_BLOCKS_TEXT_TOTAL = 12_000

# --- block and element fields (docs.slack.dev/reference/block-kit/blocks/<name>-block and
# docs.slack.dev/reference/block-kit/block-elements/<name>-element) ------------------------
SECTION_TEXT = 3_000  # section-block: text
SECTION_FIELD_TEXT = 2_000  # section-block: each of fields
SECTION_FIELDS = 10  # section-block: fields
HEADER_TEXT = 150  # header-block: text
CONTEXT_ELEMENTS = 10  # context-block: elements
ACTIONS_ELEMENTS = 25  # actions-block: elements
BLOCK_ID = 255  # every block: block_id
BUTTON_TEXT = 75  # button-element: text
BUTTON_VALUE = 2_000  # button-element: value
BUTTON_URL = 3_000  # button-element: url
ACTION_ID = 255  # every interactive element: action_id
MARKDOWN_BLOCK_TEXT = 12_000  # markdown-block: text (cumulative for the message)

# --- response_url ---------------------------------------------------------------------------
# docs.slack.dev/interactivity/handling-user-interaction#message_responses: "up to 5 times
# within 30 minutes".
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_S = 30 * 60

# --- acknowledgements ------------------------------------------------------------------------
# docs.slack.dev/interactivity/implementing-slash-commands#responding_to_commands: answer
# within 3,000 ms or the user sees `operation_timeout`; the same 3 s holds for Socket Mode
# envelopes (docs.slack.dev/apis/events-api/using-socket-mode#acknowledge).
ACK_DEADLINE_S = 3.0

# --- Socket Mode -----------------------------------------------------------------------------
# docs.slack.dev/apis/events-api/using-socket-mode: "up to 10 simultaneous WebSocket
# connections" per app.
MAX_SOCKET_CONNECTIONS = 10
# docs.slack.dev/apis/events-api#retries: an event that is not acknowledged is sent again up
# to 3 times, nearly at once, after one minute and after five minutes.
EVENT_RETRY_DELAYS_S = (0.0, 60.0, 300.0)
