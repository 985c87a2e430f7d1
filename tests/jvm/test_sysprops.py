"""VM.system_properties from real JVMs, and the Properties parser against Java's own loader."""

from __future__ import annotations

import getpass
import os
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.sysprops import parse_properties, read_properties, summarise_sysprops
from bot.model.request import Options
from tests.support.jvms import jattach_text, jdk_home, start_cowweb, stop

# Values that exercise every escape Properties.store writes. Keys cannot hold `=`: the
# launcher splits -D at the first one.
TRICKY = {
    "cow.says": "moo x:y=z",
    "cow.leading": "   three leading spaces, two trailing  ",
    "cow.backslashes": "C:\\cows\\new\\ barn\\",
    "cow.comment": "#!not a comment",
    "cow.controls": "line1\nline2\ttab\rcr\fff",
    "cow.escape": "\\u0041 stays literal",
    "cow.empty": "",
    "cow key with spaces": "v a l",
    "cow:colon": "eq=k",
    "cow.unicode": "héllo ☃ 𝄞 ß",
}


@pytest.fixture(scope="module")
def sysprops_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[int], str]]:
    """`sysprops_of(version)`: VM.system_properties of a cowweb given the TRICKY -D values."""
    texts: dict[int, str] = {}
    log_dir = tmp_path_factory.mktemp("cowweb-sysprops")

    def capture(version: int) -> str:
        if version not in texts:
            args = tuple(f"-D{key}={value}" for key, value in TRICKY.items())
            jvm = start_cowweb(version, log_dir, jvm_args=args)
            try:
                texts[version] = jattach_text(jvm.pid, "VM.system_properties")
            finally:
                stop(jvm)
        return texts[version]

    yield capture


def test_tricky_values_passed_with_minus_d_come_back_exactly(
    sysprops_of: Callable[[int], str], java_version: int
) -> None:
    text = sysprops_of(java_version)

    props = parse_properties(text)

    for key, value in TRICKY.items():
        if key == "cow.unicode" and props.get("sun.jnu.encoding") != "UTF-8":
            continue  # the launcher decodes argv in the locale's charset
        assert props[key] == value, key
    assert "\\u" in text and "\\:" in text and "\\=" in text and "\\\\" in text
    assert props["line.separator"] == "\n"
    assert props["path.separator"] == ":"


def test_summary_names_runtime_user_and_paths_but_only_names_of_other_properties(
    sysprops_of: Callable[[int], str], java_version: int
) -> None:
    text = sysprops_of(java_version)
    release = (jdk_home(java_version) / "release").read_text()

    analysis = summarise_sysprops([text], Options())

    java_version_text = parse_properties(text)["java.version"]
    assert f'JAVA_VERSION="{java_version_text}"' in release
    assert analysis.headline.startswith(f"Java {java_version_text} (")
    assert f"user {getpass.getuser()}" in analysis.headline
    assert "on Linux" in analysis.headline
    home = next(f for f in analysis.findings if f.startswith("java.home: "))
    assert os.path.realpath(home.removeprefix("java.home: ")) == os.path.realpath(
        jdk_home(java_version)
    )
    assert f"user.dir: {os.getcwd()}" in analysis.findings
    names = next(f for f in analysis.findings if f.startswith("Not from the JDK (names only): "))
    assert all(key in names for key in TRICKY)
    assert not any("moo x:y=z" in f for f in analysis.findings)
    assert analysis.notes == ()


def test_truncated_properties_keep_the_lines_before_the_cut(
    sysprops_of: Callable[[int], str],
) -> None:
    text = sysprops_of(25)
    full = parse_properties(text)

    for cut in range(0, len(text), 37):
        head = text[:cut]
        whole_lines = parse_properties(head[: head.rfind("\n") + 1])
        assert all(full[key] == value for key, value in whole_lines.items()), cut
        # The cut line adds at most one key (a cut key may also shadow an earlier one).
        assert len(set(parse_properties(head)) - set(whole_lines)) <= 1
        summarise_sysprops([head], Options())


JAVA_LOADER = """
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

public class LoadProperties {
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String name : args) {
            Properties props = new Properties();
            try {
                props.load(new StringReader(Files.readString(Path.of(name))));
            } catch (IllegalArgumentException e) {
                out.append("ERROR\\n");
                continue;
            }
            out.append("OK");
            for (String key : props.stringPropertyNames()) {
                out.append(' ').append(hex(key)).append('=').append(hex(props.getProperty(key)));
            }
            out.append('\\n');
        }
        System.out.print(out);
    }

    static String hex(String s) {
        StringBuilder b = new StringBuilder("x");
        for (char c : s.toCharArray()) b.append(String.format("%04x", (int) c));
        return b.toString();
    }
}
"""

# Pieces whose combinations reach every branch of the format: separators, escapes,
# continuations (LF and CRLF), comments, blank runs, \\u escapes good, bad and surrogate.
PIECES = [
    "a", "b", "key", "é", "𝄞", " ", "  ", "\t", "\f", "=", ":", "\\", "\\\\", "\\ ", "\\=",
    "\\:", "\\n", "\\t", "\\r", "\\f", "\\q", "\\u0041", "\\u00e9", "\\uD834", "\\uDD1E",
    "\\u12", "\\uZZZZ", "\n", "\r", "\r\n", "\\\n", "\\\r\n", "\\\r", "#", "!", "x=y\n",
    "  # c\n", "\n\n",
]  # fmt: skip


def _generated_texts(count: int) -> list[str]:
    rng = random.Random(20251129)
    return ["".join(rng.choices(PIECES, k=rng.randint(0, 24))) for _ in range(count)]


def _from_hex(field: str) -> str:
    return bytes.fromhex(field[1:]).decode("utf-16-be", "surrogatepass")


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


@pytest.fixture(scope="module")
def java_loader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled LoadProperties class, printing what `Properties.load` reads from each file."""
    if shutil.which("javac") is None:
        pytest.skip("javac is needed to compile the Properties oracle (make bootstrap installs it)")
    src = tmp_path_factory.mktemp("loader")
    (src / "LoadProperties.java").write_text(JAVA_LOADER)
    subprocess.run(
        ["javac", "--release", "11", "-d", str(src), str(src / "LoadProperties.java")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return src


# JDK 11's loader reads past the end of a line for a `\\u` escape cut short there (it
# decodes stale buffer characters); 17 and later reject it, as this parser notes it.
@pytest.mark.parametrize("java_version", [17, 21, 25], ids=["jdk17", "jdk21", "jdk25"])
def test_parser_reads_generated_texts_exactly_as_java_properties_load(
    java_loader: Path, java_version: int, tmp_path: Path
) -> None:
    texts = [text for text, _ in FORMAT_RULES.values()] + _generated_texts(1500)
    files = []
    for index, text in enumerate(texts):
        path = tmp_path / f"{index}.properties"
        path.write_text(text, encoding="utf-8", newline="")
        files.append(str(path))
    java = jdk_home(java_version) / "bin" / "java"
    out = subprocess.run(
        [str(java), "-cp", str(java_loader), "LoadProperties", *files],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()
    assert len(out) == len(texts)

    failures = 0
    for text, line in zip(texts, out, strict=True):
        ours = read_properties(text)
        if line == "ERROR":
            failures += 1
            assert ours.problems, repr(text)
            continue
        assert not ours.problems, repr(text)
        java_props = dict(pair.split("=") for pair in line.split()[1:])
        expected = {_utf16(_from_hex(k)): _utf16(_from_hex(v)) for k, v in java_props.items()}
        assert {_utf16(k): _utf16(v) for k, v in ours.values.items()} == expected, repr(text)
    # Both outcomes must be exercised for the comparison to mean anything.
    assert 0 < failures < len(texts) // 2


# Hand-picked corners of the format; the Java oracle below reads them too.
FORMAT_RULES = {
    "continuation": ("a=b\\\n   c\n", {"a": "bc"}),
    "escaped-backslash-at-eol": ("a=b\\\\\nc=d\n", {"a": "b\\", "c": "d"}),
    "crlf-continuation": ("a=b\\\r\n  c", {"a": "bc"}),
    "comments": ("  # comment\n! also\nk v\n", {"k": "v"}),
    "whitespace-around-colon": ("k\t:  v  \n", {"k": "v  "}),
    "second-equals-is-value": ("k==v", {"k": "=v"}),
    "key-without-value": ("lonely", {"lonely": ""}),
    "hash-after-continuation": ("a=1\\\n# not a comment here", {"a": "1# not a comment here"}),
    "comment-after-empty-continuation": ("\\\n# comment\nk=v", {"k": "v"}),
    "blank-line-ends-continuation": ("a=b\\\n\nc=d", {"a": "b", "c": "d"}),
    "surrogate-pair": ("a=\\uD834\\uDD1E", {"a": "𝄞"}),
    "backslash-at-eof": ("a=b\\", {"a": "b"}),
    "cr-only": ("k=v\rk2=v2", {"k": "v", "k2": "v2"}),
    "last-wins": ("dup=1\ndup=2", {"dup": "2"}),
}


@pytest.mark.parametrize(("text", "expected"), FORMAT_RULES.values(), ids=FORMAT_RULES.keys())
def test_properties_format_rules(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


def test_malformed_unicode_escape_is_kept_and_noted() -> None:
    analysis = summarise_sysprops(["java.version=25\nbad=\\u12G4x\n"], Options())

    assert parse_properties("bad=\\u12G4x") == {"bad": "\\u12G4x"}
    assert any("malformed" in n for n in analysis.notes)


def test_text_that_is_not_properties_is_noted() -> None:
    analysis = summarise_sysprops(["Exception in thread main\n"], Options())

    assert any("had no `=`" in n for n in analysis.notes)
    assert any("no java.version" in n for n in analysis.notes)


@settings(max_examples=300)
@given(st.text())
def test_any_text_gives_an_analysis(text: str) -> None:
    assert summarise_sysprops([text], Options()).headline
