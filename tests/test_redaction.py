"""Redaction of secrets: in real output of JVMs started with secrets on their command line
(sysprops, the agent's JVM list, VM.command_line), in output that has none (flags, thread
dumps), and in generated text, where it must never fail, grow without bound or change on a
second pass.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.agent import plan_agent_call
from bot.jvm.agent_frames import parse_agent_output
from bot.jvm.jps import parse_jvm_lines
from bot.jvm.sysprops import parse_properties
from bot.redaction.redactor import REDACTED, RedactionRulesError, Redactor
from tests.support.jvms import JAVA_VERSIONS, RunningJvm, jattach_text, start_cowweb, stop

REDACTOR = Redactor.default()
R = REDACTED

# Each -D argument, and the secret values in it (a URL carries two: user-info and a query
# parameter). `key.store.type` names a secret's format, not a secret.
INJECTED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("-Ddb.password=hunter2", ("hunter2",)),
    ("-Dapi.token=abc123", ("abc123",)),
    ("-Djdbc.url=jdbc:postgresql://app:s3cr3t@db:5432/x?password=pw", ("s3cr3t", "pw")),
    ("-DAWS_SECRET_ACCESS_KEY=AKIAXYZ", ("AKIAXYZ",)),
    ("-Dkey.store.type=jks", ()),
)
SECRET_COUNT = sum(len(values) for _, values in INJECTED)
JDBC_URL_REDACTED = f"jdbc:postgresql://{R}@db:5432/x?password={R}"


@pytest.fixture(scope="module", params=JAVA_VERSIONS, ids=[f"jdk{v}" for v in JAVA_VERSIONS])
def secret_jvm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One cowweb per JDK with secrets in its -D arguments, shared by this module's tests."""
    jvm = start_cowweb(
        request.param,
        tmp_path_factory.mktemp("cowweb"),
        jvm_args=tuple(arg for arg, _ in INJECTED),
    )
    try:
        yield jvm
    finally:
        stop(jvm)


def assert_no_secret_left(text: str) -> None:
    for value in ("hunter2", "abc123", "s3cr3t", "AKIAXYZ"):
        assert value not in text
    # `pw` is also part of words like `pwd`: look for it as a value only.
    assert not re.search(r"(?<![\w.\-])pw(?![\w.\-])", text)


def test_sysprops_lose_every_secret_value_and_still_parse_the_same(secret_jvm: RunningJvm):
    raw = jattach_text(secret_jvm.pid, "VM.system_properties")
    before = parse_properties(raw)
    assert before["db.password"] == "hunter2"  # the secrets really are in the output

    text, count = REDACTOR.redact(raw, "properties")

    assert_no_secret_left(text)
    assert count == SECRET_COUNT
    after = parse_properties(text)
    expected = before | {
        "db.password": R,
        "api.token": R,
        "AWS_SECRET_ACCESS_KEY": R,
        "jdbc.url": JDBC_URL_REDACTED,
    }
    # Every other property of every JDK comes back unchanged: no false positives.
    assert after == expected
    assert after["key.store.type"] == "jks" and "db:5432/x" in after["jdbc.url"]
    assert REDACTOR.redact(text, "properties") == (text, 0)


def test_jvm_list_hides_secret_arguments_but_keeps_the_jvm_recognisable(secret_jvm: RunningJvm):
    call = plan_agent_call((), deadline_s=30, pid=secret_jvm.pid)
    proc = subprocess.run(call.argv(), capture_output=True, text=True, timeout=60, check=True)
    jvm_text = parse_agent_output(proc.stdout, call.nonce).jvm_text
    assert "hunter2" in jvm_text

    text, count = REDACTOR.redact(jvm_text, "command_lines")

    assert_no_secret_left(text)
    assert count == SECRET_COUNT
    assert "-Dkey.store.type=jks" in text and f"-Djdbc.url={JDBC_URL_REDACTED}" in text
    assert "-XX:+UseSerialGC" in text and "--port 0" in text
    (before,) = parse_jvm_lines(jvm_text)
    (after,) = parse_jvm_lines(text)
    assert (after.pid, after.uid, after.gid, after.nspid) == (
        before.pid,
        before.uid,
        before.gid,
        before.nspid,
    )
    assert after.main == "cowweb.jar" and after.args == ("--port", "0")
    assert REDACTOR.redact(text, "command_lines") == (text, 0)


def test_any_other_output_naming_the_arguments_is_redacted_by_the_generic_rules(
    secret_jvm: RunningJvm,
):
    raw = jattach_text(secret_jvm.pid, "VM.command_line")
    assert "hunter2" in raw

    text, count = REDACTOR.redact(raw, "text")

    assert_no_secret_left(text)
    assert count == SECRET_COUNT
    assert "-Dkey.store.type=jks" in text and "db:5432/x" in text


@pytest.mark.parametrize(
    ("command", "kind", "sample"),
    [
        ("VM.flags", "text", "-XX:MaxHeapSize="),
        ("VM.flags -all", "text", "MaxHeapSize"),
        ("Thread.print -l", "text", '"cow-waiting-1"'),
    ],
)
def test_flags_and_thread_dumps_come_back_untouched(
    secret_jvm: RunningJvm, command: str, kind: str, sample: str
):
    """Thread names, class names and flags such as MaxHeapSize are structure, not secrets."""
    raw = jattach_text(secret_jvm.pid, command)
    assert sample in raw
    assert REDACTOR.redact(raw, kind) == (raw, 0)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("db.password", True),
        ("keystore.password", True),
        ("javax.net.ssl.keyStorePassword", True),
        ("DBPASSWORD", True),
        ("-Dapi.token", True),
        ("--api-key", True),
        ("apiKey", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("STRIPE_KEY", True),
        ("oauth.client_secret", True),
        ("mysql.pwd", True),
        ("app.credentials", True),
        ("ssh.private_key", True),
        ("privateKey", True),
        ("GITHUB_AUTHTOKEN", True),
        ("key.store.type", False),
        ("MaxKeySize", False),
        ("keystore.password.file", False),
        ("token.ttl", False),
        ("PWD", False),
        ("OLDPWD", False),
        ("routing.key", False),
        ("tokenizer.class", False),
        ("java.vendor.url", False),
        ("user.name", False),
        ("prio", False),
    ],
)
def test_secret_looking_keys(key: str, secret: bool):
    assert REDACTOR.is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jdbc:mysql://root:pw@db:3306/app", f"jdbc:mysql://{R}@db:3306/app"),
        ("https://user:p@ss@example.com/a?b=1", f"https://{R}@example.com/a?b=1"),
        ("postgres://u:p@h/db?sslmode=require", f"postgres://{R}@h/db?sslmode=require"),
        ("mongodb+srv://u:p@cluster0.x.net/db", f"mongodb+srv://{R}@cluster0.x.net/db"),
        ("redis://:hunter2@cache:6379/0", f"redis://{R}@cache:6379/0"),
        (
            "https://s3.example.com/b/o?X-Amz-Signature=abc&X-Amz-Expires=60",
            f"https://s3.example.com/b/o?X-Amz-Signature={R}&X-Amz-Expires=60",
        ),
        (
            "https://blob.example.net/c?sv=2020&sig=abc%3D&se=2030",
            f"https://blob.example.net/c?sv=2020&sig={R}&se=2030",
        ),
        ("http://h/cb?access_token=t1#frag", f"http://h/cb?access_token={R}#frag"),
        ("mongodb://h/db?authSource=admin", "mongodb://h/db?authSource=admin"),
        (
            "jdbc:sqlserver://h:1433;databaseName=x;password=pw;encrypt=true",
            f"jdbc:sqlserver://h:1433;databaseName=x;password={R};encrypt=true",
        ),
        ("jdbc:oracle:thin:scott/tiger@db:1521:orcl", f"jdbc:oracle:thin:{R}@db:1521:orcl"),
        ("jdbc:oracle:thin:@//db:1521/svc", "jdbc:oracle:thin:@//db:1521/svc"),
        ("http://example.com/path", "http://example.com/path"),
    ],
)
def test_urls_keep_scheme_host_port_and_path_but_lose_credentials(text: str, expected: str):
    redacted, count = REDACTOR.redact(f"url {text} end", "text")
    assert redacted == f"url {expected} end"
    assert count == (text != expected) * expected.count(R)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ('DB_PASSWORD="two words" X=1', "text", f'DB_PASSWORD="{R}" X=1'),
        ('{"password": "p1", "name": "n"}', "json", f'{{"password": "{R}", "name": "n"}}'),
        (
            "app.jar --password hunter2 --port 8",
            "command_lines",
            f"app.jar --password {R} --port 8",
        ),
        (
            "app.jar -Dsecret.enabled cowweb.Main",
            "command_lines",
            "app.jar -Dsecret.enabled cowweb.Main",
        ),
        ("key: AKIAIOSFODNN7EXAMPLE", "text", f"key: {R}"),
        ("password=", "text", "password="),
    ],
)
def test_pairs_json_members_flags_and_token_formats(text: str, kind: str, expected: str):
    assert REDACTOR.redact(text, kind)[0] == expected


def test_a_secret_property_spread_over_continuation_lines_is_replaced_whole():
    text = "a=1\ndb.pass\\\n   word = hun\\\n  ter2\nb=2\n"
    redacted, count = REDACTOR.redact(text, "properties")
    assert count == 1 and "hun" not in redacted and "ter2" not in redacted
    assert parse_properties(redacted) == {"a": "1", "db.password": R, "b": "2"}


def test_a_secret_key_spelled_in_unicode_escapes_is_still_found():
    redacted, count = REDACTOR.redact("#c\n\\u0070assword=hunter2\nuser=app\n", "properties")
    assert count == 1 and parse_properties(redacted) == {"password": R, "user": "app"}


def test_a_rules_file_adds_names_to_the_built_in_ones(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("secret_words: [pin]\nquery_words: [ticket]\n")
    redactor = Redactor.from_file(path)
    text = "-Dcard.pin=1234 -Ddb.password=x -Durl=http://h/?ticket=t1"
    assert redactor.redact(text, "command_lines") == (
        f"-Dcard.pin={R} -Ddb.password={R} -Durl=http://h/?ticket={R}",
        3,
    )
    assert REDACTOR.redact(text, "command_lines")[1] == 1


def test_a_rules_file_can_replace_the_built_in_ones(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("extend_defaults: false\nsecret_words: [pin]\n")
    redactor = Redactor.from_file(path)
    assert redactor.redact("PIN=1 PASSWORD=2", "text") == (f"PIN={R} PASSWORD=2", 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("secret_wrds: [pin]\n", "unknown key 'secret_wrds'"),
        ("secret_words: pin\n", "secret_words must be a list of non-empty strings"),
        ("secret_word_pairs: [apikey]\n", "'apikey' must be two words"),
        ("value_patterns: ['(unclosed']\n", "value_patterns[0]"),
        ("value_patterns: ['red']\n", "matches"),
        ("extend_defaults: maybe\n", "extend_defaults must be true or false"),
        ("- a\n- b\n", "expected a mapping"),
        ("secret_words: [a\n", "cannot read redaction rules"),
    ],
)
def test_a_bad_rules_file_is_refused_with_the_reason(tmp_path: Path, content: str, message: str):
    path = tmp_path / "rules.yaml"
    path.write_text(content)
    with pytest.raises(RedactionRulesError, match=re.escape(message)) as raised:
        Redactor.from_file(path)
    assert str(path) in str(raised.value)


KINDS = ("properties", "command_lines", "text")
# Pieces of secrets and structure, so generated text often holds something to redact.
FRAGMENTS = st.sampled_from(
    [
        "password",
        "Token",
        "_KEY",
        "api",
        "-key",
        "=",
        "==",
        ":",
        "://",
        "@",
        "?",
        "&",
        ";",
        "sig",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\\",
        "\\u00",
        '"',
        "'",
        "-D",
        "--",
        " -",
        "#",
        "!",
        "jdbc:oracle:thin:",
        "a/b",
        "AKIA",
        "0123456789ABCDEF",
        R,
        "‹",
        "PWD",
        "x",
        "é",
        "😀",
    ]
)
SECRETISH_TEXT = st.lists(FRAGMENTS | st.text(max_size=4), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=st.text() | SECRETISH_TEXT, kind=st.sampled_from(KINDS))
def test_any_text_is_redacted_once_for_all_and_stays_bounded(text: str, kind: str):
    redacted, count = REDACTOR.redact(text, kind)
    assert 0 <= count <= len(text)
    # A changed Properties value is written back escaped, which may double its length.
    assert len(redacted) <= (2 if kind == "properties" else 1) * len(text) + count * len(R)
    assert REDACTOR.redact(redacted, kind) == (redacted, 0)


@settings(max_examples=300, deadline=None)
@given(
    text=(st.text() | SECRETISH_TEXT).filter(lambda t: "-----BEGIN" not in t),
    kind=st.sampled_from(("command_lines", "text")),
)
def test_chunks_ending_at_line_breaks_redact_like_the_whole_text(text: str, kind: str):
    """So a large output can be redacted while it streams in (PEM blocks aside)."""
    chunks = [REDACTOR.redact(line, kind) for line in re.split(r"(?<=\n)", text)]
    assert REDACTOR.redact(text, kind) == (
        "".join(chunk for chunk, _ in chunks),
        sum(count for _, count in chunks),
    )


def store_properties(props: dict[str, str]) -> str:
    """Write Properties text the way `Properties.store` escapes it (keys also escape blanks)."""

    def escape(text: str, is_key: bool) -> str:
        out = []
        for index, char in enumerate(text):
            if char in "\\=:#!":
                out.append("\\" + char)
            elif char in "\t\n\r\f":
                out.append("\\" + "tnrf"["\t\n\r\f".index(char)])
            elif char == " " and (is_key or index == 0):
                out.append("\\ ")
            else:
                out.append(char)
        return "".join(out)

    return "#generated\n" + "".join(
        f"{escape(k, True)}={escape(v, False)}\n" for k, v in props.items()
    )


KEY_PART = st.sampled_from(
    ["db", "password", "api", "token", "key", "store", "type", "Secret", "x"]
)
PROPERTY_KEY = st.lists(KEY_PART, min_size=1, max_size=3).map(".".join) | st.text(
    st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8
)
# Values without `=`, `@`, `"` or `-`, so only their key decides whether they are hidden.
PLAIN_VALUE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters='=@"-'), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(props=st.dictionaries(PROPERTY_KEY, PLAIN_VALUE, max_size=8))
def test_redacted_properties_parse_with_exactly_the_secret_values_replaced(
    props: dict[str, str],
):
    text = store_properties(props)
    assert parse_properties(text) == props  # the writer above is faithful

    redacted, count = REDACTOR.redact(text, "properties")

    hidden = {k for k, v in props.items() if v not in ("", R) and REDACTOR.is_secret_key(k)}
    assert parse_properties(redacted) == {k: R if k in hidden else v for k, v in props.items()}
    assert REDACTOR.redact(redacted, "properties") == (redacted, 0)
    assert count == len(hidden)
