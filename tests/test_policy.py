"""The policy decides who may run which tool where, denies by default, explains denials in
one sentence, rejects bad files with the line at fault, and reloads its file safely."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import textwrap
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access.gate import OpenGate
from bot.access.policy import Decision, GlobSet, Policy, PolicyError, PolicyWatcher, Rule
from bot.jvm.catalog import CATALOG, Tool, one_command
from bot.model.request import Request, Requester, TargetSelector

REPO = Path(__file__).resolve().parents[1]

# Today's catalog has no mutating tool; this one stands in for e.g. starting a JFR recording.
JFR = Tool(
    name="jfr",
    summary="Start a flight recording.",
    example="jfr pod=cowweb",
    analyser=CATALOG[0].analyser,
    steps=one_command("jfr", "JFR.start"),
    aliases=("recording",),
    mutating=True,
)
TEST_CATALOG = (*CATALOG, JFR)
READ_ONLY = tuple(tool.name for tool in CATALOG)

ONCALL_GROUP, OTHER_GROUP = "S0ONCALL01", "S0OTHER001"
PAY_LEAD, SRE, BULK, ALICE = "U0PAYLEAD1", "U0SRE00001", "U0BULK0001", "U0ALICE001"
PAY_CHANNEL, RANDOM_CHANNEL = "C0PAYMENTS", "C0RANDOM01"

POLICY = textwrap.dedent(
    """\
    contact: "#platform-oncall"
    rules:
      - name: oncall
        subjects: {groups: [S0ONCALL01]}
        namespaces: ["*", "!kube-*"]
        tools: [read-only]
      - name: pay
        subjects:
          users: [U0PAYLEAD1]
          channels: [C0PAYMENTS]
        clusters: ["prod-*", "!prod-eu"]
        namespaces: ["pay", "pay-*", "!pay-vault"]
        tools: [read-only, "!histo"]
      - name: sre
        subjects: {users: [U0SRE00001]}
        namespaces: ["*"]
        tools: [all, jfr]
      - name: bulk
        subjects: {users: [U0BULK0001]}
        namespaces: ["*"]
        tools: [read-only, all, "*"]
      - name: basics
        subjects: "*"
        namespaces: ["staging-*"]
        tools: [jps, version]
    """
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.parse(POLICY, source="test-policy.yaml", catalog=TEST_CATALOG)


def slack(
    tool: str,
    namespace: str | None,
    user: str = ALICE,
    channel: str | None = RANDOM_CHANNEL,
    cluster: str | None = "prod-us",
) -> Request:
    return Request(
        tool=tool,
        target=TargetSelector(pod="cowweb", namespace=namespace, cluster=cluster),
        requester=Requester(kind="slack", user=user, channel=channel),
    )


# One request per row: `rule` is the rule that allows it (`-`: denied); elsewhere `-` is none.
TABLE = """
case                      user   groups        channel  cluster   namespace    tool        rule
oncall-group-reads-prod   alice  oncall        random   prod-us   shop         flags       oncall
oncall-among-groups       alice  other,oncall  -        dev       shop         threaddump  oncall
oncall-excludes-kube-sys  alice  oncall        random   prod-us   kube-system  flags       -
oncall-excludes-kube-pub  alice  oncall        random   prod-us   kube-public  jps         -
oncall-not-mutating       alice  oncall        random   prod-us   shop         jfr         -
other-group-only          alice  other         random   prod-us   shop         flags       -
nobody-in-prod            alice  -             random   prod-us   shop         flags       -
lead-by-user-id           lead   -             random   prod-us   pay          flags       pay
lead-namespace-glob       lead   -             -        prod-us   pay-api      threaddump  pay
lead-namespace-exclude    lead   -             -        prod-us   pay-vault    flags       -
lead-namespace-outside    lead   -             -        prod-us   shop         flags       -
lead-prefix-is-not-glob   lead   -             -        prod-us   payx         flags       -
lead-tool-exclude         lead   -             -        prod-us   pay          histo       -
lead-cluster-exclude      lead   -             -        prod-eu   pay          flags       -
lead-cluster-outside      lead   -             -        stage-us  pay          flags       -
channel-grants-anyone     alice  -             paych    prod-us   pay-db       flags       pay
channel-elsewhere-no      alice  -             random   prod-us   pay-db       flags       -
named-mutating-granted    sre    -             -        prod-eu   kube-system  jfr         sre
named-mutating-by-alias   sre    -             -        prod-eu   shop         recording   sre
sre-all-reads             sre    -             -        prod-eu   shop         histo       sre
bulk-read                 bulk   -             -        prod-us   shop         sysprops    bulk
bulk-not-mutating         bulk   -             -        prod-us   shop         jfr         -
anyone-staging-jps        alice  -             -        dev       staging-web  jps         basics
anyone-staging-in-dm      anon   -             dm       dev       staging-1    version     basics
anyone-no-threaddump      alice  -             -        dev       staging-web  threaddump  -
anyone-bare-staging       alice  -             -        dev       staging      jps         -
request-alias-resolves    lead   -             -        prod-us   pay          td          pay
first-rule-in-file-wins   lead   oncall        paych    prod-us   pay          flags       oncall
namespace-case-sensitive  lead   -             -        prod-us   Pay          flags       -
unknown-tool              sre    -             -        prod-us   shop         rm-rf       -
"""
IDS = {
    "alice": ALICE, "lead": PAY_LEAD, "sre": SRE, "bulk": BULK, "anon": "U0STRANGER",
    "oncall": ONCALL_GROUP, "other": OTHER_GROUP,
    "random": RANDOM_CHANNEL, "paych": PAY_CHANNEL, "dm": "D0DIRECT01",
}  # fmt: skip


def _table_rows():
    for line in TABLE.strip().splitlines()[1:]:
        case, user, groups, channel, cluster, namespace, tool, rule = line.split()
        yield pytest.param(
            IDS[user],
            [] if groups == "-" else [IDS[g] for g in groups.split(",")],
            None if channel == "-" else IDS[channel],
            cluster,
            namespace,
            tool,
            None if rule == "-" else rule,
            id=case,
        )


@pytest.mark.parametrize(
    ("user", "groups", "channel", "cluster", "namespace", "tool", "rule"),
    list(_table_rows()),
)
def test_policy_allows_exactly_what_a_rule_covers(
    policy, user, groups, channel, cluster, namespace, tool, rule
):
    request = slack(tool, namespace, user=user, channel=channel, cluster=cluster)
    decision = policy.decide(request, groups)
    assert decision.allowed is (rule is not None), decision.reason
    assert decision.rule == rule
    if rule is not None:
        assert rule in decision.reason
    else:
        assert decision.reason


USERS = [ALICE, PAY_LEAD, SRE, BULK]
GROUP_SETS = [(), (ONCALL_GROUP,), (OTHER_GROUP,), (OTHER_GROUP, ONCALL_GROUP)]
CHANNELS = [None, PAY_CHANNEL, RANDOM_CHANNEL]
NAMESPACES = ["pay", "pay-vault", "kube-system", "staging-web", "shop"]
TOOLS = [*READ_ONLY, "jfr"]


def _grid():
    return itertools.product(USERS, GROUP_SETS, CHANNELS, NAMESPACES, TOOLS)


def test_mutating_tool_is_allowed_only_where_a_rule_names_it(policy):
    for user, groups, channel, namespace, tool in _grid():
        decision = policy.decide(slack(tool, namespace, user, channel), groups)
        if tool == "jfr":
            assert decision.allowed is (user == SRE), (user, groups, channel, namespace)
            if decision.allowed:
                assert decision.rule == "sre"


def test_excluded_namespaces_are_reached_only_by_rules_without_that_exclude(policy):
    for user, groups, channel, namespace, tool in _grid():
        decision = policy.decide(slack(tool, namespace, user, channel), groups)
        if decision.allowed and fnmatchcase(namespace, "kube-*"):
            assert decision.rule in {"sre", "bulk"}
        if decision.allowed and namespace == "pay-vault":
            assert decision.rule != "pay"


def test_a_requester_no_rule_names_gets_only_what_everyone_gets(policy):
    for _, _, channel, namespace, tool in _grid():
        if channel == PAY_CHANNEL:
            continue
        decision = policy.decide(slack(tool, namespace, "U0NOBODY00", channel), ())
        expected = namespace.startswith("staging-") and tool in {"jps", "version"}
        assert decision.allowed is expected, (channel, namespace, tool)


def test_every_allowed_decision_names_a_rule_and_every_denial_says_why(policy):
    for user, groups, channel, namespace, tool in _grid():
        decision = policy.decide(slack(tool, namespace, user, channel), groups)
        assert (decision.rule is not None) is decision.allowed
        assert decision.reason


def test_denial_of_a_mutating_tool_explains_that_bulk_words_do_not_grant_it(policy):
    decision = policy.decide(slack("jfr", "shop", BULK), ())
    assert not decision.allowed
    assert "`read-only`, `all` and `*` do not grant it" in decision.reason


def test_denial_by_exclude_names_the_rule_and_namespace(policy):
    decision = policy.decide(slack("flags", "kube-system", ALICE), [ONCALL_GROUP])
    assert decision.reason == "namespace `kube-system` is excluded by `oncall`"


def test_unset_namespace_matches_only_rules_allowing_every_namespace(policy):
    assert policy.decide(slack("flags", None, SRE), ()).rule == "sre"
    decision = policy.decide(slack("flags", None, ALICE), [ONCALL_GROUP])
    assert not decision.allowed
    assert decision.needs == ("namespace",)
    message = policy.deny_message(slack("flags", None, ALICE), decision)
    assert "without naming the namespace (add `ns=…`)" in message


def test_unset_cluster_matches_only_rules_allowing_every_cluster(policy):
    request = slack("flags", "pay", PAY_LEAD, cluster=None)
    decision = policy.decide(request)
    assert not decision.allowed
    assert decision.needs == ("cluster",)
    assert policy.decide(slack("flags", "shop", ALICE, cluster=None), [ONCALL_GROUP]).allowed


def test_deny_message_is_one_sentence_with_request_and_contact(policy):
    request = slack("threaddump", "pay-vault", PAY_LEAD, cluster="prod-us")
    decision = policy.decide(request)
    message = policy.deny_message(request, decision)
    assert message.startswith("You asked for `threaddump` on `pay-vault/cowweb`")
    assert "in cluster `prod-us`" in message
    assert "not permitted" in message
    assert "#platform-oncall" in message
    assert message.endswith(".") and ". " not in message and "\n" not in message
    assert "excluded" in decision.reason and "excluded" not in message  # that is for the audit


def test_deny_message_names_namespace_of_a_deployment_target(policy):
    request = Request(
        tool="flags",
        target=TargetSelector(deploy="web", namespace="shop"),
        requester=Requester(kind="slack", user=ALICE, channel=RANDOM_CHANNEL),
    )
    message = policy.deny_message(request, policy.decide(request))
    assert "`deploy/web` in namespace `shop`" in message


def test_without_a_policy_file_only_the_terminal_user_may_run_anything():
    empty = Policy.empty(contact="<@U0ADMIN001>")
    for tool in READ_ONLY:
        local = Request(tool=tool, target=TargetSelector(pod="cowweb", namespace="kube-system"))
        assert OpenGate().judge(local).allowed
        request = slack(tool, "shop", SRE)
        decision = empty.decide(request, [ONCALL_GROUP])
        assert not decision.allowed and decision.rule is None
        message = empty.deny_message(request, decision)
        assert "no policy file" in message and "<@U0ADMIN001>" in message
        assert message.endswith(".") and ". " not in message


def test_a_terminal_user_is_judged_by_os_user_name_under_a_policy_file():
    policy = Policy.parse(
        textwrap.dedent(
            """\
            rules:
              - name: laptop
                subjects: {terminal_users: [alice], users: [U0SRE00001]}
                namespaces: [shop]
                tools: [read-only]
            """
        ),
        catalog=TEST_CATALOG,
    )

    def terminal(user: str, namespace: str = "shop") -> Request:
        return Request(
            tool="threaddump",
            target=TargetSelector(pod="cowweb", namespace=namespace),
            requester=Requester(kind="terminal", user=user),
        )

    assert policy.decide(terminal("alice")).rule == "laptop"
    assert not policy.decide(terminal("alice", "kube-system")).allowed
    assert not policy.decide(terminal("bob")).allowed
    # A Slack ID in `users` never admits an OS user who happens to have that name.
    assert not policy.decide(terminal("U0SRE00001")).allowed


def test_policy_without_rules_denies_every_slack_user():
    nobody = Policy.parse('contact: "#x"\nrules: []\n', catalog=TEST_CATALOG)
    assert not nobody.decide(slack("jps", "staging-web", SRE)).allowed


def test_uses_groups_tells_whether_group_lookups_are_needed(policy):
    assert policy.uses_groups
    no_groups = Policy.parse(
        'rules:\n- {subjects: {users: [U0A1]}, namespaces: ["*"], tools: [jps]}\n'
    )
    assert not no_groups.uses_groups


def test_rule_without_name_is_named_by_position():
    p = Policy.parse('rules:\n- {subjects: "*", namespaces: [a], tools: [td]}\n')
    decision = p.decide(slack("threaddump", "a"))
    assert decision.rule == "rule 1"


def test_example_policy_behaves_as_its_comments_say():
    example = Policy.load(REPO / "examples" / "policy.yaml")
    assert example.contact == "#platform-oncall"
    oncall = ["S0ONCALL01"]
    assert example.decide(slack("threaddump", "shop", cluster="prod-eu"), oncall).allowed
    assert not example.decide(slack("flags", "kube-system", cluster="prod-eu"), oncall).allowed
    assert not example.decide(slack("flags", "shop", cluster="dev"), oncall).allowed
    lead = {"user": "U0PAYLEAD1", "cluster": "dev"}
    assert example.decide(slack("sysprops", "payments-api", **lead)).allowed
    assert not example.decide(slack("histo", "payments-api", **lead)).allowed
    assert example.decide(slack("jps", "staging-1", "U0STRANGER")).allowed
    assert not example.decide(slack("sysprops", "staging-1", "U0STRANGER")).allowed


# --- invalid files ------------------------------------------------------------------------

RULE_HEAD = "contact: x\nrules:\n  - name: r\n    subjects: {users: [U0A1]}\n"


def _line_of(text: str, marker: str) -> int:
    """The line that is exactly `marker`, else the first containing it."""
    lines = text.splitlines()
    exact = [n for n, line in enumerate(lines, 1) if line == marker]
    return exact[0] if exact else next(n for n, line in enumerate(lines, 1) if marker in line)


INVALID = [
    ("unknown-tool", RULE_HEAD + '    namespaces: ["*"]\n    tools: [jps, jstak]\n', "jstak",
     "unknown tool `jstak`", "did you mean `jstack`"),
    ("unquoted-exclude-is-a-tag", RULE_HEAD + "    namespaces:\n      - a\n      - !kube-*\n"
     "    tools: [jps]\n", "!kube-*", "read as a YAML tag", 'quote it: "!kube-*"'),
    ("unquoted-star-is-an-alias", RULE_HEAD + "    namespaces: [*]\n    tools: [jps]\n",
     "[*]", "not valid YAML", 'quote patterns'),
    ("unquoted-exclude-in-flow-list", RULE_HEAD + "    namespaces: [a, !kube-*]\n"
     "    tools: [jps]\n", "    tools: [jps]", "not valid YAML", "quote patterns"),
    ("typo-key", RULE_HEAD + '    namespace: ["*"]\n    tools: [jps]\n', "namespace:",
     "unknown key `namespace`", "did you mean `namespaces`"),
    ("missing-namespaces", RULE_HEAD + "    tools: [jps]\n", "- name: r",
     "rule `r` has no `namespaces:`", ""),
    ("user-name-not-id", "rules:\n  - subjects:\n      users: ['@alice']\n"
     "    namespaces: [a]\n    tools: [jps]\n", "@alice", "not a Slack member ID", ""),
    ("channel-name-not-id", "rules:\n  - subjects: {channels: ['#ops']}\n"
     "    namespaces: [a]\n    tools: [jps]\n", "#ops", "not a Slack channel ID", ""),
    ("group-in-users", "rules:\n  - subjects: {users: [S0ONCALL01]}\n"
     "    namespaces: [a]\n    tools: [jps]\n", "S0ONCALL01", "not a Slack member ID", ""),
    ("subjects-nobody", "rules:\n  - subjects: {}\n    namespaces: [a]\n    tools: [jps]\n",
     "subjects", "name nobody", ""),
    ("subjects-scalar", "rules:\n  - subjects: everyone\n    namespaces: [a]\n    tools: [jps]\n",
     "subjects", 'must be "*" or a mapping', ""),
    ("duplicate-rule-name", RULE_HEAD + "    namespaces: [a]\n    tools: [jps]\n"
     "  - subjects: '*'\n    name: r\n    namespaces: [b]\n    tools: [jps]\n", "    name: r",
     "already used on line 3", ""),
    ("duplicate-key", RULE_HEAD + "    namespaces: [a]\n    tools: [jps]\n    tools: [flags]\n",
     "tools: [flags]", "`tools` appears twice", ""),
    ("empty-tools", RULE_HEAD + "    namespaces: [a]\n    tools: []\n", "tools: []",
     "is an empty list", ""),
    ("exclude-everything", RULE_HEAD + "    namespaces: [a]\n    tools: [jps, '!jps']\n",
     "'!jps'", "grants no tools", ""),
    ("exclude-keyword", RULE_HEAD + "    namespaces: [a]\n    tools: ['!read-only']\n",
     "!read-only", "only tool names can be excluded", ""),
    ("null-entry", RULE_HEAD + "    namespaces:\n      - a\n      -\n    tools: [jps]\n",
     "      -", "is empty", ""),
    ("glob-with-space", RULE_HEAD + "    namespaces: ['prod ns']\n    tools: [jps]\n",
     "prod ns", "not a name or glob pattern", ""),
    ("rules-missing", "contact: x\n", "contact", "no `rules:` list", ""),
    ("rules-not-list", "rules: {a: 1}\n", "rules", "must be a list of rules", ""),
    ("top-level-list", "- a\n- b\n", "- a", "must be a mapping", ""),
    ("tab-indent", "rules:\n\t- a\n", "\t- a", "not valid YAML", ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "marker", "problem", "hint"),
    [pytest.param(*case[1:], id=case[0]) for case in INVALID],
)
def test_invalid_policy_is_refused_naming_file_line_and_problem(
    tmp_path, text, marker, problem, hint
):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        Policy.load(path, catalog=TEST_CATALOG)
    message = caught.value.message
    assert message.startswith(f"policy file {path}, line {_line_of(text, marker)}: "), message
    assert problem in message and hint in message, message


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    text = RULE_HEAD + "    namespaces: [a]\n    tools: [jstak]\n    colour: red\n"
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        Policy.load(path)
    message = caught.value.message
    assert f"policy file {path} has 2 problems" in message
    assert f"line {_line_of(text, 'jstak')}: unknown tool" in message
    assert f"line {_line_of(text, 'colour')}: unknown key `colour`" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "is empty"), (b"rules: [\xff\xfe]\n", "not UTF-8"), (b"a: 1\n---\nb: 2\n", "YAML")],
    ids=["empty", "not-utf8", "two-documents"],
)
def test_unusable_file_is_refused_with_its_name(tmp_path, content, problem):
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    with pytest.raises(PolicyError, match=problem) as caught:
        Policy.load(path)
    assert str(path) in caught.value.message


def test_missing_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(PolicyError, match="cannot be read") as caught:
        Policy.load(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in caught.value.message


_SCALARS = st.sampled_from(
    ["*", "'*'", "'!kube-*'", "jps", "read-only", "U0A1", "S0B2", "C0C3", "@x", "", "~", "1"]
)
_KEYS = st.sampled_from(["rules", "contact", "subjects", "users", "groups", "channels",
                         "namespaces", "clusters", "tools", "name", "x"])  # fmt: skip
_YAMLISH = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(_KEYS, inner, max_size=4).map(
            lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_YAMLISH, st.text(max_size=200), st.binary(max_size=100)))
def test_any_text_gives_a_policy_or_a_policy_error(data):
    try:
        parsed = Policy.parse(data, catalog=TEST_CATALOG)
    except PolicyError as error:
        assert error.message.startswith("policy file <policy>")
    else:
        decision = parsed.decide(slack("jfr", "kube-system"), [ONCALL_GROUP])
        assert isinstance(decision, Decision)
        assert not decision.allowed  # nothing above can name jfr


# --- reload -------------------------------------------------------------------------------

V1 = 'contact: "#a"\nrules:\n  - {name: one, subjects: "*", namespaces: [prod-a], tools: [jps]}\n'
V2 = 'contact: "#a"\nrules:\n  - {name: two, subjects: "*", namespaces: [prod-b], tools: [jps]}\n'
V2_LONGER = V2.replace("[jps]", "[jps, flags]")
BROKEN = V1 + "  - {name: bad, subjects: '*', namespaces: [x], tools: [jstak]}\n"


def _allows(policy: Policy, namespace: str) -> bool:
    return policy.decide(slack("jps", namespace)).allowed


def test_watcher_reloads_a_changed_file_and_announces_it(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    seen: list[Policy] = []
    watcher = PolicyWatcher(path, seen.append, interval_s=60)
    assert _allows(watcher.policy, "prod-a") and not watcher.poll() and not seen

    path.write_text(V2_LONGER)
    assert watcher.poll()
    assert len(seen) == 1 and seen[0] is watcher.policy
    assert _allows(watcher.policy, "prod-b") and not _allows(watcher.policy, "prod-a")
    assert not watcher.poll() and len(seen) == 1


@pytest.fixture
def logs():
    """Every structlog event while the test runs, whatever level another test configured."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as entries:
            yield entries
    finally:
        structlog.configure(**saved)


def _events(logs, name):
    return [entry for entry in logs if entry["event"] == name]


def test_watcher_keeps_the_old_policy_when_the_new_one_is_invalid_and_logs_why(tmp_path, logs):
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    seen: list[Policy] = []
    watcher = PolicyWatcher(path, seen.append, interval_s=60)
    old = watcher.policy

    path.write_text(BROKEN)
    assert not watcher.poll()
    assert not watcher.poll()  # the same bad version is reported once
    assert watcher.policy is old and not seen
    rejected = _events(logs, "policy.reload_rejected")
    assert len(rejected) == 1
    assert f"line {_line_of(BROKEN, 'jstak')}: unknown tool `jstak`" in rejected[0]["error"]
    assert rejected[0]["log_level"] == "error"

    path.write_text(V2_LONGER)
    assert watcher.poll() and _allows(watcher.policy, "prod-b") and len(seen) == 1


def test_watcher_ignores_a_rewrite_with_the_same_content(tmp_path, logs):
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    seen: list[Policy] = []
    watcher = PolicyWatcher(path, seen.append, interval_s=60)
    path.unlink()
    path.write_text(V1)
    os.utime(path, ns=(1, 1))  # a new file, for certain: the watcher must look inside
    assert not watcher.poll() and not seen
    assert len(_events(logs, "policy.unchanged")) == 1


def test_watcher_keeps_the_policy_while_the_file_is_missing(tmp_path, logs):
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    seen: list[Policy] = []
    watcher = PolicyWatcher(path, seen.append, interval_s=60)
    path.unlink()
    assert not watcher.poll()
    assert [entry["event"] for entry in logs] == ["policy.file_missing"]
    assert _allows(watcher.policy, "prod-a")
    path.write_text(V2)
    assert watcher.poll() and _allows(watcher.policy, "prod-b")


def test_watcher_refuses_to_start_on_an_invalid_file(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(BROKEN)
    with pytest.raises(PolicyError, match=f"line {_line_of(BROKEN, 'jstak')}"):
        PolicyWatcher(path, lambda _: None)
    with pytest.raises(PolicyError, match="cannot be read"):
        PolicyWatcher(tmp_path / "absent.yaml", lambda _: None)


def _configmap_volume(root: Path, version: str, content: str, mtime_ns: int) -> None:
    """Lay out (or update) a directory as kubelet does for a ConfigMap volume:
    `policy.yaml -> ..data/policy.yaml`, `..data -> ..<version>`, swapped atomically."""
    (root / version).mkdir()
    (root / version / "policy.yaml").write_text(content)
    os.utime(root / version / "policy.yaml", ns=(mtime_ns, mtime_ns))
    (root / "..data_tmp").symlink_to(version)
    old = os.readlink(root / "..data") if (root / "..data").is_symlink() else None
    os.replace(root / "..data_tmp", root / "..data")
    if old is not None:
        shutil.rmtree(root / old)
    if not (root / "policy.yaml").is_symlink():
        (root / "policy.yaml").symlink_to("..data/policy.yaml")


def test_watcher_reloads_on_a_configmap_data_symlink_swap(tmp_path, logs):
    # Same size and mtime (kubelet may write two versions within one second), and the path
    # itself stays the same symlink: only following `..data` to a new file shows the change.
    assert len(V1) == len(V2)
    mtime_ns = 1_700_000_000_000_000_000
    _configmap_volume(tmp_path, "..2024_01_01_00_00_00.1", V1, mtime_ns)
    seen: list[Policy] = []
    watcher = PolicyWatcher(tmp_path / "policy.yaml", seen.append, interval_s=60)
    assert _allows(watcher.policy, "prod-a") and not watcher.poll()

    _configmap_volume(tmp_path, "..2024_01_01_00_01_00.2", V2, mtime_ns)
    assert watcher.poll()
    assert len(seen) == 1 and _allows(watcher.policy, "prod-b")

    assert _events(logs, "policy.reloaded")[0]["path"] == str(tmp_path / "policy.yaml")

    _configmap_volume(tmp_path, "..2024_01_01_00_02_00.3", BROKEN, mtime_ns)
    assert not watcher.poll()
    assert _allows(watcher.policy, "prod-b") and len(seen) == 1
    assert len(_events(logs, "policy.reload_rejected")) == 1


async def test_running_watcher_picks_up_a_change_and_survives_a_failing_callback(tmp_path, logs):
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    changed = asyncio.Event()
    calls: list[Policy] = []

    def on_change(new: Policy) -> None:
        calls.append(new)
        changed.set()
        if len(calls) == 1:
            raise RuntimeError("a bug in the caller")

    watcher = PolicyWatcher(path, on_change, interval_s=0.01)
    task = asyncio.create_task(watcher.run())
    try:
        path.write_text(V2_LONGER)
        await asyncio.wait_for(changed.wait(), timeout=5)
        changed.clear()
        path.write_text(V1)
        await asyncio.wait_for(changed.wait(), timeout=5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [_allows(p, "prod-b") for p in calls] == [True, False]
    assert len(_events(logs, "policy.watch_failed")) == 1


def test_policy_built_in_code_grants_a_named_mutating_tool():
    rule = Rule(
        name="in-code",
        namespaces=GlobSet.of(["team-*", "!team-secret"]),
        tools=frozenset({"jfr"}),
        users=frozenset({ALICE}),
    )
    built = Policy([rule], catalog=TEST_CATALOG)
    assert built.decide(slack("jfr", "team-a")).rule == "in-code"
    assert not built.decide(slack("jfr", "team-secret")).allowed
    assert not built.decide(slack("flags", "team-a")).allowed


def test_a_single_group_id_passed_as_text_is_one_group(policy):
    assert policy.decide(slack("flags", "shop"), ONCALL_GROUP).rule == "oncall"
