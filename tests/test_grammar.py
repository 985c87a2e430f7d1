"""The command grammar: what users type after `/jdebug` and what it becomes.

Valid forms are checked against hand-written `Request`s; each invalid form must raise a
`GrammarError` naming the bad word; a hypothesis run throws adversarial text at the parser.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.grammar import HelpRequest, parse_command
from bot.jvm.catalog import CATALOG, tool_named, tool_names
from bot.model.errors import GrammarError
from bot.model.request import Options, Request, Requester, TargetSelector

# Written from Kubernetes' definitions, independently of bot/grammar.py, to re-check results.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII
)
LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", re.ASCII)


def td(**target: object) -> Request:
    return Request(tool="threaddump", target=TargetSelector(**target))  # type: ignore[arg-type]


VALID: list[tuple[str, Request | HelpRequest]] = [
    # help
    ("", HelpRequest()),
    ("   \t ", HelpRequest()),
    ("help", HelpRequest()),
    ("HELP", HelpRequest()),
    ("--help", HelpRequest()),
    ("help threaddump", HelpRequest("threaddump")),
    ("help td", HelpRequest("threaddump")),
    ("help Histogram", HelpRequest("histo")),
    ("help help", HelpRequest()),
    ("/jdebug", HelpRequest()),
    # tools by name and alias, case-insensitive; the canonical name is kept
    ("threaddump pod=cowweb", td(pod="cowweb")),
    ("jstack pod=cowweb", td(pod="cowweb")),
    ("TD pod=cowweb", td(pod="cowweb")),
    ("ps", Request(tool="jps")),
    ("vmflags cowweb", Request(tool="flags", target=TargetSelector(pod="cowweb"))),
    # positional pod, ns/name shorthand, kubectl resource forms
    ("threaddump cowweb", td(pod="cowweb")),
    ("threaddump prod/cowweb", td(pod="cowweb", namespace="prod")),
    ("threaddump pod=prod/cowweb", td(pod="cowweb", namespace="prod")),
    ("threaddump pod/cowweb", td(pod="cowweb")),
    ("threaddump deploy/web", td(deploy="web")),
    ("threaddump deployment/web ns=prod", td(deploy="web", namespace="prod")),
    # every target key and its short form
    ("threaddump cowweb-7d9f.x ns=prod", td(pod="cowweb-7d9f.x", namespace="prod")),
    ("threaddump cowweb namespace=prod", td(pod="cowweb", namespace="prod")),
    ("threaddump cowweb container=app", td(pod="cowweb", container="app")),
    ("threaddump cowweb c=app pid=7", td(pod="cowweb", container="app", pid=7)),
    ("threaddump pid=1", td(pid=1)),
    ("threaddump pid=4194304", td(pid=4194304)),
    ("threaddump deploy=web", td(deploy="web")),
    ("threaddump selector=app=web", td(selector=(("app", "web"),))),
    (
        "threaddump l=app=web,example.com/tier=Front_1",
        td(selector=(("app", "web"), ("example.com/tier", "Front_1"))),
    ),
    ("threaddump selector=app=", td(selector=(("app", ""),))),
    ("threaddump selector=app==web", td(selector=(("app", "web"),))),
    ("threaddump POD=cowweb NS=prod", td(pod="cowweb", namespace="prod")),
    ("threaddump " + "a" * 253, td(pod="a" * 253)),
    ("threaddump cowweb ns=" + "n" * 63, td(pod="cowweb", namespace="n" * 63)),
    # options and their bounds
    (
        "threaddump cowweb count=3 interval=5s",
        Request(
            tool="threaddump",
            target=TargetSelector(pod="cowweb"),
            options=Options.of(count=3, interval=5),
        ),
    ),
    (
        "td cowweb count=10",
        Request(
            tool="threaddump", target=TargetSelector(pod="cowweb"), options=Options.of(count=10)
        ),
    ),
    (
        "td cowweb count=1",
        Request(
            tool="threaddump", target=TargetSelector(pod="cowweb"), options=Options.of(count=1)
        ),
    ),
    ("td interval=7", Request(tool="threaddump", options=Options.of(interval=7))),
    ("td interval=1s", Request(tool="threaddump", options=Options.of(interval=1))),
    ("td interval=60s", Request(tool="threaddump", options=Options.of(interval=60))),
    ("td interval=1m", Request(tool="threaddump", options=Options.of(interval=60))),
    (
        "histo cowweb top=1",
        Request(tool="histo", target=TargetSelector(pod="cowweb"), options=Options.of(top=1)),
    ),
    (
        "histo cowweb top=500",
        Request(tool="histo", target=TargetSelector(pod="cowweb"), options=Options.of(top=500)),
    ),
    (
        "histo cowweb all",
        Request(tool="histo", target=TargetSelector(pod="cowweb"), options=Options.of(all=True)),
    ),
    (
        "flags ALL cowweb",
        Request(tool="flags", target=TargetSelector(pod="cowweb"), options=Options.of(all=True)),
    ),
    # whitespace and Slack formatting
    ("  threaddump\t\tpod=cowweb \n ns=prod  ", td(pod="cowweb", namespace="prod")),
    ("threaddump\u00a0cowweb", td(pod="cowweb")),
    ("/jdebug threaddump cowweb", td(pod="cowweb")),
    ("`threaddump pod=cowweb`", td(pod="cowweb")),
    ("```threaddump pod=cowweb```", td(pod="cowweb")),
    ("threaddump `cowweb`", td(pod="cowweb")),
    ('threaddump pod="cowweb"', td(pod="cowweb")),
    ("threaddump pod=\u201ccowweb\u201d", td(pod="cowweb")),
    ("threaddump pod=\u2018cowweb\u2019", td(pod="cowweb")),
    ('"threaddump pod=cowweb"', td(pod="cowweb")),
    ('"threaddump" "cowweb"', td(pod="cowweb")),
    ("threaddump co\u200bwweb", td(pod="cowweb")),
    ("threaddump <http://cowweb.prod|cowweb.prod>", td(pod="cowweb.prod")),
    ("threaddump pod=<http://cowweb.prod>", td(pod="cowweb.prod")),
    ("\uff54\uff44\u3000\uff50\uff4f\uff44\uff1d\uff43\uff4f\uff57", td(pod="cow")),
    (
        "threaddump selector=app=web, tier=front",
        td(selector=(("app", "web"), ("tier", "front"))),
    ),
    (
        "threaddump selector=app=web ,tier=front",
        td(selector=(("app", "web"), ("tier", "front"))),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[repr(t)[:60] for t, _ in VALID])
def test_valid_command_gives_exactly_the_expected_request(
    text: str, expected: Request | HelpRequest
) -> None:
    if isinstance(expected, Request):  # the grammar fills in every option's default
        tool = tool_named(expected.tool)
        expected = dataclasses.replace(expected, options=tool.defaults(**expected.options))
    assert parse_command(text) == expected


# (text, a piece of the message that names the bad word)
INVALID: list[tuple[str, str]] = [
    # tools
    (
        "thredump pod=cowweb",
        'unknown tool "thredump"; did you mean "threaddump"? Try /jdebug help.',
    ),
    ("frobnicate", '"frobnicate"'),
    ("pod=cowweb threaddump", '"pod=cowweb" comes before the tool name'),
    ("help thredump", '"thredump"'),
    ("help td extra", '"extra"'),
    # names
    ("threaddump pod=CowWeb", "pod=cowweb"),
    ("threaddump cow_web", '"cow_web"'),
    ("threaddump -cowweb", '"-cowweb"'),
    ("threaddump cowweb-", '"cowweb-"'),
    ("threaddump cow..web", '"cow..web"'),
    ("threaddump " + "a" * 254, "the limit is 253"),
    ("threaddump cowweb ns=" + "n" * 64, "the limit is 63"),
    ("threaddump cowweb ns=pro.d", '"pro.d"'),
    ("threaddump cowweb ns=Prod", "ns=prod"),
    ("threaddump cowweb container=a/b", '"a/b"'),
    ("threaddump deploy=Web", "deploy=web"),
    ("threaddump a/b/c", '"a/b/c"'),
    ("threaddump prod/", '"prod/"'),
    ("threaddump /cowweb", '"/cowweb"'),
    ("threaddump pod=$(rm -rf /)", '"$(rm"'),
    ("threaddump cowweb;reboot", '"cowweb;reboot"'),
    ("threaddump `whoami`x", '"`whoami`x"'),
    ("threaddump pod=a\x00b", r'"a\x00b"'),
    ("threaddump p\u00f6d", '"p\u00f6d"'),
    # selectors
    ("threaddump selector=app", '"app"'),
    ("threaddump selector=app!=web", '"app!=web"'),
    ("threaddump selector=app=web,", "an empty item"),
    ("threaddump selector=app=web,app=db", 'label key "app" appears twice'),
    ("threaddump selector=-app=web", '"-app"'),
    ("threaddump selector=app=web!", '"web!"'),
    ("threaddump selector=app=" + "v" * 64, "label value"),
    ("threaddump selector=Bad_Prefix/app=web", '"Bad_Prefix"'),
    ("threaddump selector==web", '"=web"'),
    # numbers
    ("threaddump pid=0", "pid=0 is out of range; use pid=1..4194304"),
    ("threaddump pid=4194305", "pid=4194305"),
    ("threaddump pid=-1", '"-1"'),
    ("threaddump pid=+1", '"+1"'),
    ("threaddump pid=1e3", '"1e3"'),
    ("threaddump pid=\u0663", '"\u0663"'),  # an Arabic-Indic digit three, which int() accepts
    ("threaddump pid=" + "9" * 200, "out of range"),
    ("threaddump count=0", "count=0"),
    ("threaddump count=11", "count=11"),
    ("threaddump interval=0s", "interval=0s"),
    ("threaddump interval=61s", "interval=61s"),
    ("threaddump interval=2m", "interval=2m"),
    ("threaddump interval=500ms", '"500ms"'),
    ("threaddump interval=1h", '"1h"'),
    ("threaddump interval=1.5s", '"1.5s"'),
    ("threaddump interval=s", '"s"'),
    ("histo top=0", "top=0"),
    ("histo top=501", "top=501"),
    # options the tool does not take
    ("threaddump cowweb top=5", 'threaddump does not take "top=5"; top is for hot and histo'),
    ("flags cowweb count=2", 'flags does not take "count=2"; count is for threaddump'),
    ("histo cowweb interval=5s", '"interval=5s"'),
    ("threaddump cowweb all", "all is for flags and histo"),
    ("flags cowweb all=true", '"all=true" takes no value'),
    # duplicates, conflicts, unknown keys, empty values, stray words
    ("threaddump ns=a namespace=b", '"ns=a" and "namespace=b"'),
    ("threaddump prod/cowweb ns=prod", '"prod/cowweb" and "ns=prod"'),
    ("threaddump cowweb pod=other", '"cowweb" and "pod=other"'),
    ("threaddump pod=a pod=b", '"pod=a" and "pod=b"'),
    ("threaddump count=2 count=3", '"count=2" and "count=3"'),
    ("flags all all", '"all" and "all"'),
    ("threaddump cowweb deploy=web", '"cowweb" and "deploy=web"'),
    ("threaddump selector=app=web pod=cowweb", '"selector=app=web" and "pod=cowweb"'),
    ("threaddump deploy=web selector=app=web", '"deploy=web" and "selector=app=web"'),
    ("threaddump nmespace=prod", 'unknown option "nmespace=prod"; did you mean "namespace="'),
    ("threaddump colour=red", '"colour=red"'),
    ("threaddump =prod", '"=prod"'),
    ("threaddump pod=", '"pod=" needs a value'),
    ('threaddump pod=""', '"pod=""" needs a value'),
    ("threaddump ns=", '"ns="'),
    ("threaddump cowweb extra", '"extra"'),
    ("threaddump deploy=web cowweb", '"cowweb"'),
    ("threaddump -n prod", 'unexpected "-n"'),
    ("threaddump --ns=prod", "write ns=prod"),
    ("threaddump \u2014namespace prod", '"\u2014namespace"'),
    # size
    ("threaddump pod=" + "a" * 1000, "the limit is 1000"),
]


@pytest.mark.parametrize(("text", "named"), INVALID, ids=[repr(t)[:60] for t, _ in INVALID])
def test_invalid_command_raises_one_sentence_naming_the_bad_word(text: str, named: str) -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command(text)
    message = caught.value.message
    assert named in message
    assert len(message.splitlines()) == 1
    assert len(message) < 400


def test_requester_is_carried_into_the_request() -> None:
    slack = Requester(kind="slack", user="U123", channel="C456")
    request = parse_command("threaddump cowweb", slack)
    assert isinstance(request, Request)
    assert request.requester == slack
    default = parse_command("threaddump cowweb")
    assert isinstance(default, Request)
    assert default.requester == Requester()


def test_every_catalog_name_and_alias_parses_to_its_tool() -> None:
    for tool in CATALOG:
        for name in (tool.name, *tool.aliases):
            request = parse_command(f"{name.upper()} cowweb")
            assert isinstance(request, Request)
            assert request.tool == tool.name


def test_an_overlong_command_is_rejected_before_it_is_looked_at() -> None:
    with pytest.raises(GrammarError) as caught:
        parse_command("\x00" * 5000)
    assert caught.value.message == "the command is 5000 characters long; the limit is 1000."


# ---- adversarial input ------------------------------------------------------------------

SHELL_BITS = [
    "$(rm -rf /)",
    "`id`",
    ";",
    "&&",
    "||",
    "|",
    ">",
    "<",
    ">>",
    "$IFS",
    "${PATH}",
    "\\",
    "'",
    '"',
    "\x00",
    "\n",
    "\r\n",
    "*",
    "?",
    "~",
    "!",
    "#",
    "&",
    "%s",
    "{}",
    "..",
    "../..",
    "&lt;",
    "&amp;",
    "<@U1>",
    "<!channel>",
    "<http://x|y>",
    "\u202e",
    "\ud800",
    "\ufeff",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\u200b",
    "\u201c",
    "\u201d",
    "```",
    "=",
    "/",
    ",",
]
KEYS = [
    "pod",
    "ns",
    "namespace",
    "container",
    "c",
    "pid",
    "deploy",
    "selector",
    "l",
    "count",
    "interval",
    "top",
    "all",
    "POD",
    "Ns",
    "x",
    "",
]
NAMEISH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=20)
VALUES = st.one_of(
    NAMEISH,
    st.integers(-5, 5_000_000).map(str),
    st.sampled_from(["5s", "1m", "60s", "61s", "0", "app=web", "a=b,c=d", "prod/cowweb"]),
    st.sampled_from(SHELL_BITS),
    st.text(max_size=12),
)
WORDS = st.one_of(
    st.sampled_from(SHELL_BITS),
    st.sampled_from(list(tool_names())),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES),
    NAMEISH,
    st.builds(lambda a, b: f"{a}/{b}", NAMEISH, NAMEISH),
    st.text(max_size=10),
)
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000", ""])
HEADS = st.one_of(
    st.sampled_from(list(tool_names())),
    st.builds(lambda t, s: t + s, st.sampled_from(list(tool_names())), st.text(max_size=3)),
    WORDS,
)
# A tool (or a near miss) followed by a soup of words joined by odd whitespace.
SOUPS = st.builds(
    lambda head, space, words: space.join([head, *words]),
    HEADS,
    SPACES,
    st.lists(WORDS, max_size=6),
)

LABELISH = st.text(alphabet="abcXYZ09-_.", max_size=8)
OPTION_VALUES = {
    "ns": NAMEISH,
    "container": NAMEISH,
    "deploy": NAMEISH,
    "pid": st.integers(-1, 4_194_306).map(str),
    "count": st.integers(0, 11).map(str),
    "interval": st.builds(
        lambda n, u: f"{n}{u}", st.integers(0, 62), st.sampled_from(["", "s", "m", "ms"])
    ),
    "top": st.integers(0, 501).map(str),
    "selector": st.lists(
        st.builds(lambda k, v: f"{k}={v}", LABELISH, LABELISH), min_size=1, max_size=3
    ).map(",".join),
    "all": st.just(""),
}


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """Well-formed words with borderline values, so that many commands are accepted."""
    words = [draw(st.sampled_from(list(tool_names())))]
    if draw(st.booleans()):
        words.append(draw(st.one_of(NAMEISH, st.builds(lambda a, b: f"{a}/{b}", NAMEISH, NAMEISH))))
    for key in draw(st.lists(st.sampled_from(list(OPTION_VALUES)), max_size=4, unique=True)):
        words.append("all" if key == "all" else f"{key}={draw(OPTION_VALUES[key])}")
    return " ".join(words)


ANY_TEXT = st.one_of(
    near_valid(),
    SOUPS,
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),
    st.builds(
        lambda t, n, c: f"{t} pod={c * n}",
        st.sampled_from(["td", "threaddump", "flags"]),
        st.integers(0, 1200),
        st.sampled_from(["a", "\u00e9", "$", "-", "\x00", "\ufdfa"]),
    ),
    st.integers(990, 20_000).map(lambda n: "td " + "x " * (n // 2)),
)


def assert_is_a_valid_request(request: Request) -> None:
    tool = next(t for t in CATALOG if t.name == request.tool)
    target = request.target
    for name in (target.pod, target.deploy):
        assert name is None or (len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name))
    for label in (target.namespace, target.container):
        assert label is None or (len(label) <= 63 and DNS_LABEL.fullmatch(label))
    assert sum(bool(x) for x in (target.pod, target.deploy, target.selector)) <= 1
    for key, value in target.selector:
        prefix, _, name = key.rpartition("/")
        assert not prefix or (len(prefix) <= 253 and DNS_SUBDOMAIN.fullmatch(prefix))
        assert name and len(name) <= 63 and LABEL_NAME.fullmatch(name)
        assert len(value) <= 63 and LABEL_NAME.fullmatch(value)
    assert target.pid is None or 1 <= target.pid <= 4_194_304
    # The documented ranges, written here rather than read from the catalog.
    bounds = {"count": (1, 10), "interval": (1, 60), "top": (1, 500)}
    assert {spec.key for spec in tool.options} == set(request.options)
    for key, value in request.options.items():
        spec = tool.option(key)
        assert spec is not None
        if key in bounds:
            low, high = bounds[key]
            assert isinstance(value, int) and low <= value <= high
        elif spec.flag:
            assert isinstance(value, bool)
        else:  # an option this test has no table for: its value reads back as itself
            assert spec.parse(spec.show(value)) == value


@settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ANY_TEXT)
def test_any_text_gives_a_valid_request_or_a_one_line_grammar_error(text: str) -> None:
    try:
        result = parse_command(text)
    except GrammarError as error:
        assert type(error) is GrammarError
        assert error.message and error.message == error.message.strip()
        assert len(error.message.splitlines()) == 1
        assert len(error.message) < 400
        assert error.message.isprintable()
        return
    if isinstance(result, HelpRequest):
        assert result.topic is None or result.topic in {t.name for t in CATALOG}
    else:
        assert isinstance(result, Request)
        assert_is_a_valid_request(result)
