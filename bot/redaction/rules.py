"""The rules of `bot.redaction.redactor` as data: which keys look secret, which URL query parameters
carry credentials, which token formats are recognised. The defaults are
`rules.yaml` beside this module; operators extend or replace them from a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from importlib.resources import files

import yaml

REDACTED = "‹redacted›"


# Texts on which a value pattern must not match the replacement's ends (see `check`).
_MARKER_ENDS = frozenset((REDACTED[0], REDACTED[-1]))
_PROBES = (REDACTED, *(f"{c * 3}{m}{c * 3}" for c in "aZ9_-=/ :\\\n" for m in _MARKER_ENDS))


class RedactionRulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the bad entry."""


@dataclass(frozen=True)
class RedactionRules:
    """What looks secret; see `rules.yaml` for the meaning of each list."""

    secret_substrings: tuple[str, ...] = ()
    secret_words: tuple[str, ...] = ()
    secret_word_endings: tuple[str, ...] = ()
    secret_word_pairs: tuple[str, ...] = ()
    secret_key_suffixes: tuple[str, ...] = ()
    describing_words: tuple[str, ...] = ()
    not_secret_keys: tuple[str, ...] = ()
    query_words: tuple[str, ...] = ()
    value_patterns: tuple[str, ...] = ()

    @classmethod
    def from_mapping(
        cls, data: object, source: str, base: RedactionRules | None = None
    ) -> RedactionRules:
        """Rules from parsed YAML; with `extend_defaults` (default true) added to `base`."""
        if not isinstance(data, Mapping):
            raise RedactionRulesError(f"{source}: expected a mapping of rule lists")
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names and k != "extend_defaults")
        if unknown:
            raise RedactionRulesError(
                f"{source}: unknown key {unknown[0]!r} (known: extend_defaults, "
                + ", ".join(sorted(names))
                + ")"
            )
        extend = data.get("extend_defaults", True)
        if not isinstance(extend, bool):
            raise RedactionRulesError(f"{source}: extend_defaults must be true or false")
        given = cls(**{name: _string_list(data.get(name, []), source, name) for name in names})
        given.check(source)  # before merging, so an index names the entry in this file
        if base is None or not extend:
            return given
        return cls(
            **{
                name: tuple(dict.fromkeys((*getattr(base, name), *getattr(given, name))))
                for name in names
            }
        )

    def check(self, source: str) -> None:
        """Raise `RedactionRulesError` for a pair that is not two words or a bad pattern."""
        for pair in self.secret_word_pairs:
            if len(pair.split()) != 2:
                raise RedactionRulesError(
                    f"{source}: secret_word_pairs entry {pair!r} must be two words"
                )
        for index, pattern in enumerate(self.value_patterns):
            try:
                compiled = re.compile(pattern)
            except re.error as error:
                raise RedactionRulesError(
                    f"{source}: value_patterns[{index}] {pattern!r} is not a regular "
                    f"expression: {error}"
                ) from error
            if (
                compiled.match("")
                or compiled.search(REDACTED)
                or any(
                    _MARKER_ENDS & set(found[0])
                    for probe in _PROBES
                    for found in compiled.finditer(probe)
                )
            ):
                raise RedactionRulesError(
                    f"{source}: value_patterns[{index}] {pattern!r} matches empty text, "
                    f"{REDACTED} or text holding {REDACTED[0]} or {REDACTED[-1]}, so a "
                    "second redaction would find more"
                )


def _string_list(value: object, source: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RedactionRulesError(f"{source}: {name} must be a list of non-empty strings")
    return tuple(value)


@cache
def _default_rules() -> RedactionRules:
    text = files("bot.redaction").joinpath("rules.yaml").read_text(encoding="utf-8")
    return RedactionRules.from_mapping(yaml.safe_load(text), "bot/redaction/rules.yaml")
