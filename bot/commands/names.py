"""Kubernetes name and label rules (apimachinery's validation) as yes/no checks, plus, for
words a user typed, the `GrammarError` sentence saying which rule broke and the right form.

`is_dns1123_label("cowweb")` is True, `is_dns1123_label("CowWeb")` is False.
"""

from __future__ import annotations

import re

from bot.commands.words import show
from bot.model.errors import GrammarError

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_NAME_MAX = 63

# A label is one DNS-1123 label, a subdomain is dot-separated labels; label-selector names
# also allow upper case, '_' and '.'.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII
)
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", re.ASCII)


def is_dns1123_label(name: str) -> bool:
    """A namespace or container name: lower-case letters, digits and '-', at most 63."""
    return len(name) <= DNS1123_LABEL_MAX and _DNS_LABEL.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """A pod or deployment name: dot-separated DNS-1123 labels, at most 253 characters."""
    return len(name) <= DNS1123_SUBDOMAIN_MAX and _DNS_SUBDOMAIN.fullmatch(name) is not None


def is_label_name(name: str) -> bool:
    """The part of a label key after any `prefix/`: letters, digits, '-', '_', '.', at most 63."""
    return len(name) <= LABEL_NAME_MAX and _LABEL_NAME.fullmatch(name) is not None


def is_label_key(key: str) -> bool:
    """A label key: an optional DNS-subdomain prefix and '/', then a label name (`app`,
    `example.com/team`)."""
    prefix, slash, name = key.rpartition("/")
    return (not slash or is_dns1123_subdomain(prefix)) and is_label_name(name)


def is_label_value(value: str) -> bool:
    """A label value: empty, or shaped like a label name."""
    return not value or is_label_name(value)


def valid_dns1123_subdomain(what: str, value: str, example: str) -> str:
    """`value` if it is a valid pod or deployment name, else a `GrammarError` saying why.

    `what` names it in the sentence ("pod name"), `example` shows the right form ("pod=cowweb").
    """
    return _valid_name(what, value, example, _DNS_SUBDOMAIN, DNS1123_SUBDOMAIN_MAX, "'-' and '.'")


def valid_dns1123_label(what: str, value: str, example: str) -> str:
    """`value` if it is a valid namespace or container name, else a `GrammarError` saying why."""
    return _valid_name(what, value, example, _DNS_LABEL, DNS1123_LABEL_MAX, "'-'")


def _valid_name(
    what: str, value: str, example: str, pattern: re.Pattern[str], limit: int, extra: str
) -> str:
    if len(value) > limit:
        raise GrammarError(
            f'{what} "{show(value)}" is {len(value)} characters long; the limit is {limit}.'
        )
    if pattern.fullmatch(value):
        return value
    key = example.partition("=")[0]
    if pattern.fullmatch(value.lower()):
        raise GrammarError(
            f'{what} "{show(value)}" is not valid: Kubernetes names are lower case, '
            f"so write {key}={value.lower()}."
        )
    raise GrammarError(
        f'{what} "{show(value)}" is not valid: use lower-case letters, digits, {extra}, '
        f"starting and ending with a letter or digit, e.g. {example}."
    )


def check_label_key(key: str, word: str) -> None:
    """Raise a `GrammarError` naming `key` (typed in `word`) unless it is a valid label key."""
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns1123_subdomain(prefix):
        raise GrammarError(
            f'label key prefix "{show(prefix)}" in "{show(word)}" is not a DNS subdomain; '
            "write e.g. selector=example.com/team=web."
        )
    if not is_label_name(name):
        raise GrammarError(
            f'label key "{show(key)}" in "{show(word)}" is not valid: use at most 63 letters, '
            "digits, '-', '_' and '.', starting and ending with a letter or digit."
        )


def check_label_value(value: str, word: str) -> None:
    """Raise a `GrammarError` naming `value` (typed in `word`) unless it is a valid label value."""
    if not is_label_value(value):
        raise GrammarError(
            f'label value "{show(value)}" in "{show(word)}" is not valid: use at most 63 '
            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit."
        )
