"""Generated abuse for the Slack frontend: command texts, slash-command bodies and
`block_actions` bodies that are odd, forged, oversized or of the wrong types.

Generation is seeded (`random.Random(seed)`), so a failure names a case that can be made
again. Bodies start from the fake Slack's real wire format (tests/fakeslack/payloads.py)
and are then bent one field at a time, as a buggy client or a replayed payload would.
"""

from __future__ import annotations

import copy
import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.jvm.catalog import CATALOG

JsonDict = dict[str, Any]

TOOL_WORDS = [t.name for t in CATALOG] + [a for t in CATALOG for a in t.aliases] + ["help"]
KEYS = ["pod", "ns", "namespace", "deploy", "selector", "container", "pid", "count"]
KEYS += ["interval", "top", "cluster", "all", "POD", "pid ", "=", ""]
NASTY = [
    "$(reboot)", "`id`", "; rm -rf /", "| nc evil 1", "&& curl x", "../../etc/passwd",
    "\x00", "\n", "\r\n", "\t", "\u202e", "\ufeff", "🐄", "ｐｏｄ", "'", '"', "\\", "%s",
    "{cmd}", "<@U0BOB00002>", "<!channel>", "*bold*", "```", "-1", "0", "4194305",
    "99999999999999999999", "1e9", "0x10", "NaN", "-", "a" * 64, "a" * 254, "A-B", "a_b",
    "app=web", "app in (a,b)", "!app", "a=b=c", "kube-system", "*", "?", "[a]",
]  # fmt: skip
WRONG_TYPES: list[Any] = [None, 0, -1, 3.5, True, [], ["x"], {}, {"id": "U0ALICE001"}, ""]
WRONG_OBJECTS: list[Any] = [None, [], ["x"], {}, {"id": None}, "", "C0OPS00001"]
# Bolt sends the team ID to auth.test in the URL; a 50 kB one is refused by any HTTP server.
TEAM_FIELDS = {("team_id",), ("team",)}
OBJECT_FIELDS = {("user",), ("channel",), ("team",), ("message",), ("container",)}


def fuzz_text(rng: random.Random) -> str:
    """One command text: grammar-shaped, random, a mutation, or oversized."""
    kind = rng.random()
    if kind < 0.45:
        words = [rng.choice(TOOL_WORDS + NASTY)] if rng.random() < 0.9 else []
        for _ in range(rng.randrange(0, 5)):
            key, value = rng.choice(KEYS), rng.choice([*NASTY, "cowweb", "apps", "42", "3"])
            words.append(rng.choice([f"{key}={value}", value, f"{key}=", f"ns/{value}"]))
        return rng.choice([" ", "  ", "\t", " \n"]).join(words)
    if kind < 0.7:
        alphabet = string.printable + "éß漢字🐄\u202e\u200b\x00"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
    if kind < 0.9:
        text = list(rng.choice(["threaddump pod=cowweb ns=apps", "flags pod=x", "help jps"]))
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and i < len(text):
                del text[i]
            else:
                text.insert(i, rng.choice(string.printable))
        return "".join(text)
    return rng.choice(["flags pod=", "x", "=", " "]) * rng.choice([300, 1001, 20_000])


def fuzz_json(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of any type, sometimes shaped like a button value."""
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([None, True, 0, -7, 1.5, "", "cmd", fuzz_text(rng)])
    if roll < 0.6:
        return {
            rng.choice(["cmd", "CMD", "value", "user", ""]): fuzz_json(rng, depth + 1)
            for _ in range(rng.randrange(0, 3))
        }
    return [fuzz_json(rng, depth + 1) for _ in range(rng.randrange(0, 3))]


def fuzz_value(rng: random.Random, known_commands: list[str]) -> Any:
    """A button `value`: mostly strings, as Slack sends, but not always."""
    roll = rng.random()
    if roll < 0.3:
        return json.dumps({"cmd": rng.choice([*known_commands, fuzz_text(rng)])})
    if roll < 0.5:
        return json.dumps(fuzz_json(rng))
    if roll < 0.6:
        return json.dumps({"cmd": fuzz_json(rng)})
    if roll < 0.7:
        depth = rng.choice([10, 900, 1500, 5000])
        return "[" * depth + "]" * rng.choice([0, depth])
    if roll < 0.8:  # beyond Slack's 2000-character cap, still valid JSON
        pad = "x" * rng.choice([2000, 10**5])
        return json.dumps({"cmd": "flags pod=cowweb ns=apps", "pad": pad})
    if roll < 0.9:
        return rng.choice(['{"cmd":', "{", "not json", "", "null", '"cmd"', '{"cmd": "\\ud800"}'])
    return rng.choice(WRONG_TYPES)


@dataclass
class Case:
    """One delivery: `kind` is "slash_commands" or "interactive"; `url` the response_url the
    body carries when it is one this fake issued (None when forged or missing)."""

    kind: str
    body: JsonDict
    user: Any
    url: str | None
    notes: list[str] = field(default_factory=list)


def bend(
    rng: random.Random, body: JsonDict, paths: list[tuple[str, ...]], notes: list[str]
) -> None:
    """Replace, drop or oversize the field at one of `paths` (a chain of dict keys).

    Objects Bolt itself reads (`user`, `channel`, `team`, ...) get only None, a list, an
    object or a string: a number there fails inside Bolt's request parsing, before any
    jdebug code, and Slack never sends one (see test_abuse.py's note). Team IDs are not
    oversized: Bolt puts them in auth.test's URL."""
    path = rng.choice(paths)
    parent: Any = body
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(parent, dict):
        return
    roll = rng.random()
    if roll < 0.25:
        parent.pop(path[-1], None)
        notes.append(f"drop {'.'.join(path)}")
    elif roll < 0.9:
        choices = WRONG_OBJECTS if path in OBJECT_FIELDS else WRONG_TYPES
        parent[path[-1]] = copy.deepcopy(rng.choice(choices))
        notes.append(f"{'.'.join(path)}={parent[path[-1]]!r}")
    elif path not in TEAM_FIELDS:
        parent[path[-1]] = "U" * rng.choice([300, 50_000])  # a string, even for objects
        notes.append(f"oversize {'.'.join(path)}")


SLASH_FIELDS = [("text",), ("user_id",), ("channel_id",), ("response_url",), ("command",)]
SLASH_FIELDS += [("team_id",), ("user_name",), ("channel_name",), ("trigger_id",)]
CLICK_FIELDS = [("actions",), ("channel",), ("channel", "id"), ("message",)]
CLICK_FIELDS += [("message", "thread_ts"), ("container",), ("container", "message_ts")]
CLICK_FIELDS += [("response_url",), ("type",), ("trigger_id",), ("user", "id"), ("team",)]


def slash_cases(
    rng: random.Random, count: int, users: list[str], make: Callable[[str, str], JsonDict]
) -> Iterator[Case]:
    """`make(text, user)` gives the real wire body with a fresh response_url."""
    for _ in range(count):
        user = rng.choice(users)
        body = make(fuzz_text(rng), user)
        case = Case("slash_commands", body, user, body["response_url"])
        if rng.random() < 0.3:
            bend(rng, body, SLASH_FIELDS, case.notes)
        if body.get("response_url") != case.url:
            case.url = None
        yield case


def click_cases(
    rng: random.Random,
    count: int,
    users: list[str],
    make: Callable[[str], JsonDict],
    known_commands: list[str],
) -> Iterator[Case]:
    """`make(user)` gives a real block_actions body for a jdebug button, fresh response_url."""
    for _ in range(count):
        user = rng.choice(users)
        body = make(user)
        case = Case("interactive", body, user, body["response_url"])
        action = body["actions"][0]
        action["value"] = fuzz_value(rng, known_commands)
        case.notes.append(f"value={str(action['value'])[:60]!r}")
        roll = rng.random()
        if roll < 0.1:
            action["action_id"] = rng.choice(["jdebug_run_evil", "other", "jdebug_run_", "x" * 300])
        elif roll < 0.2:
            body["actions"] = copy.deepcopy(rng.choice([[], [None], [5], ["x"], [{}], {"a": 1}]))
        elif roll < 0.5:
            bend(rng, body, CLICK_FIELDS, case.notes)
        if body.get("response_url") != case.url:
            case.url = None
        yield case
