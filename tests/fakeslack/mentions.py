"""Every mention and link Slack would resolve in a text the fake received.

Slack turns `<!here>`, `<!channel>`, `<!everyone>`, `<@U…>`, `<#C…>`, `<!subteam^S…>`,
`<!date^…>` and `<https://…|label>` into pings and links (and reads any other `<…>` as a
control sequence) wherever it parses mrkdwn
(docs.slack.dev/messaging/formatting-message-text#advanced): a message's `text`, `mrkdwn` text
objects in blocks, response_url and ack `text`, and a file's `initial_comment`. It shows
`plain_text` objects literally, so a mention there is only characters. Escaped text (`&lt;`)
never matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The `<…>` forms Slack's message formatting page lists; the label after `|` is optional.
_SPECIAL = re.compile(
    r"<(?P<body>!here|!channel|!everyone|!subteam\^[A-Z0-9]+|!date\^[^|>]*"
    r"|@[UW][A-Z0-9]+|#C[A-Z0-9]+|(?:https?|mailto|ftp|slack):[^|>\s]*)(?:\|(?P<label>[^>]*))?>"
)


@dataclass(frozen=True)
class Mention:
    """One thing Slack would resolve: `kind` is here/channel/everyone/user/channel_link/
    usergroup/date/link; `target` what it points at; `where` the method and field."""

    kind: str
    target: str
    raw: str
    where: str


def _kind(body: str) -> tuple[str, str]:
    if body in ("!here", "!channel", "!everyone"):
        return body[1:], body[1:]
    if body.startswith("!subteam^"):
        return "usergroup", body.removeprefix("!subteam^")
    if body.startswith("!date^"):
        return "date", body
    if body.startswith("@"):
        return "user", body[1:]
    if body.startswith("#"):
        return "channel_link", body[1:]
    return "link", body


# Any other `<…>`: Slack reads it as a control sequence too (a link to whatever it holds, or
# nothing), so `<name>` in a usage line does not show as typed. Recorded as kind "markup".
_ANY_ANGLE = re.compile(r"<[^<>\s][^<>]*>")


def mentions_in(text: str, where: str) -> list[Mention]:
    """The mentions (and other `<…>` sequences) Slack would resolve in one mrkdwn `text`."""
    found = []
    special_spans = []
    for match in _SPECIAL.finditer(text):
        kind, target = _kind(match["body"])
        found.append(Mention(kind, target, match[0], where))
        special_spans.append(match.span())
    for match in _ANY_ANGLE.finditer(text):
        if match.span() not in special_spans:
            found.append(Mention("markup", match[0][1:-1], match[0], where))
    return found


def _mrkdwn_texts(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """(text, pointer) for each text Slack parses as mrkdwn inside blocks."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _mrkdwn_texts(item, f"{pointer}/{i}")
        return
    if not isinstance(value, dict):
        return
    kind = value.get("type")
    if kind == "mrkdwn" and isinstance(value.get("text"), str):
        yield value["text"], f"{pointer}/text"
        return
    if kind == "markdown" and isinstance(value.get("text"), str):
        yield value["text"], f"{pointer}/text"
        return
    if kind == "plain_text":
        return
    for key, item in value.items():
        yield from _mrkdwn_texts(item, f"{pointer}/{key}")


def _rich_text_mentions(value: Any, where: str) -> Iterator[Mention]:
    """rich_text elements that are mentions by type (user, channel, broadcast, usergroup)."""
    if isinstance(value, list):
        for item in value:
            yield from _rich_text_mentions(item, where)
    elif isinstance(value, dict):
        kind = value.get("type")
        if kind == "user":
            yield Mention("user", str(value.get("user_id")), str(value), where)
        elif kind == "channel":
            yield Mention("channel_link", str(value.get("channel_id")), str(value), where)
        elif kind == "broadcast":
            yield Mention(str(value.get("range")), str(value.get("range")), str(value), where)
        elif kind == "usergroup":
            yield Mention("usergroup", str(value.get("usergroup_id")), str(value), where)
        elif kind == "link":
            yield Mention("link", str(value.get("url")), str(value), where)
        else:
            for item in value.values():
                yield from _rich_text_mentions(item, where)


def mentions_in_message(
    method: str, text: Any, blocks: Any, *, text_is_mrkdwn: bool = True
) -> list[Mention]:
    """The mentions in a message-like payload: its `text` and the mrkdwn in its `blocks`."""
    found = []
    if isinstance(text, str) and text_is_mrkdwn:
        found += mentions_in(text, f"{method} text")
    for chunk, pointer in _mrkdwn_texts(blocks, "/blocks"):
        found += mentions_in(chunk, f"{method} {pointer}")
    if isinstance(blocks, list):
        rich = [b for b in blocks if isinstance(b, dict) and b.get("type") == "rich_text"]
        found += list(_rich_text_mentions(rich, f"{method} rich_text"))
    return found
