"""The user's command text as Slack delivers it, turned back into the words they typed.

Undoes Slack's and phones' formatting (NFKC, invisible characters, HTML entities, auto-links,
code blocks, smart quotes) and splits on whitespace; no shell rules apply.
"""

from __future__ import annotations

import re
import unicodedata

from bot.model.errors import GrammarError

MAX_COMMAND_CHARS = 1000

# Slack (and phones) turn quotes into typographic ones and people wrap words in `code`; a
# pair of these around a whole command, word or value is formatting, not part of the name.
_WRAPPERS = frozenset("\"'`“”‘’„‚«»‹›")
# Invisible characters that copy-paste and Slack's composer leave inside words.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Slack always HTML-escapes these three in command text.
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# Slack may auto-link a dotted name: `<http://a.b|a.b>` or `<http://a.b>`.
_SLACK_LINK = re.compile(r"<(?:https?://|mailto:)([^<>|\s]*)(?:\|([^<>\s]*))?>", re.IGNORECASE)


def split_words(text: str) -> list[str]:
    """Normalise Slack's formatting away and split on any whitespace; no shell rules apply."""
    if not isinstance(text, str):
        raise GrammarError("the command must be text, e.g. threaddump pod=cowweb.")
    if len(text) > MAX_COMMAND_CHARS:
        raise GrammarError(
            f"the command is {len(text)} characters long; the limit is {MAX_COMMAND_CHARS}."
        )
    # NFKC turns full-width input (Japanese IMEs: ｐｏｄ＝ｃｏｗｗｅｂ) into ASCII.
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.strip()
    # A code block or quotes around the whole command; only when nothing inside is quoted,
    # so `"threaddump" "cowweb"` keeps its word-level pairs.
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3].strip()
    if not _WRAPPERS.intersection(text[1:-1]):
        text = unwrap(text).strip()
    words = [unwrap(w) for w in text.split()]
    words = [w for w in words if w]
    if words and words[0].lower() == "/jdebug":
        words = words[1:]
    return _join_comma_lists(words)


def unwrap(word: str) -> str:
    """Drop one pair of quotes or backticks wrapping the whole of `word`."""
    if len(word) >= 2 and word[0] in _WRAPPERS and word[-1] in _WRAPPERS:
        return word[1:-1]
    return word


def _join_comma_lists(words: list[str]) -> list[str]:
    """Glue `selector=app=web, tier=front` back into one word; commas never end a word."""
    joined: list[str] = []
    for word in words:
        if len(joined) > 1 and (joined[-1].endswith(",") or word.startswith(",")):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


def show(word: str, limit: int = 40) -> str:
    """`word` safe to quote in a one-line message: short, with unprintable characters escaped."""
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in word[:limit])
    return shown + "…" if len(word) > limit else shown
