"""`read` and `remove` fetch and delete a file the JVM wrote into its own /tmp, from a debug
process with its own /tmp (the ephemeral-like topology), as the JVM's uid; paths outside /tmp,
with `..` or through symbolic links are refused."""

from __future__ import annotations

import json
import os

import pytest

from tests.native.conftest import EPHEMERAL, jvm_tmp, needs_root, run, start_contained

pytestmark = needs_root


@pytest.fixture
def jvm(cowweb_factory):
    return start_contained(cowweb_factory, 25, 1000, 1000)


def helper_as_root(jvm, *args: str):
    return run(EPHEMERAL.argv(jvm, 0, 0, "-t", "30", *args))


def test_a_json_thread_dump_written_by_the_jvm_is_read_and_removed(jvm):
    dumped = helper_as_root(
        jvm, "jcmd", "1", "Thread.dump_to_file", "-format=json", "/tmp/threads.json"
    )
    assert dumped.returncode == 0, dumped.stderr + dumped.stdout
    written = jvm_tmp(jvm) / "threads.json"
    assert written.stat().st_uid == 1000

    read = helper_as_root(jvm, "read", "1", "/tmp/threads.json")
    assert read.returncode == 0, read.stderr
    assert read.stdout == written.read_text()
    dump = json.loads(read.stdout)["threadDump"]
    assert dump["processId"] == "1"
    names = {t["name"] for c in dump["threadContainers"] for t in c["threads"]}
    assert "barn-door-holder" in names

    removed = helper_as_root(jvm, "remove", "1", "/tmp/threads.json")
    assert removed.returncode == 0, removed.stderr
    assert not written.exists()


def test_files_in_subfolders_of_the_jvm_tmp_are_read(jvm):
    folder = jvm_tmp(jvm) / "jfr"
    folder.mkdir()
    (folder / "rec.jfr").write_bytes(b"FLR\0recording")
    os.chown(folder, 1000, 1000)
    result = helper_as_root(jvm, "read", "1", "/tmp/jfr/./rec.jfr")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "FLR\0recording"


def test_the_file_is_read_as_the_jvms_uid_not_as_root(jvm):
    private = jvm_tmp(jvm) / "root-only"
    private.write_text("secret")
    private.chmod(0o600)
    result = helper_as_root(jvm, "read", "1", "/tmp/root-only")
    assert result.returncode == 13
    assert result.stderr == (
        "there is no plain file /tmp/root-only in the filesystem of pid 1 (Permission denied)\n"
    )
    assert result.stdout == ""


def test_a_symbolic_link_is_not_followed(jvm):
    (jvm_tmp(jvm) / "link").symlink_to("/etc/hostname")
    result = helper_as_root(jvm, "read", "1", "/tmp/link")
    assert result.returncode == 13
    assert result.stderr == (
        "there is no plain file /tmp/link in the filesystem of pid 1 (a symbolic link)\n"
    )


def test_a_missing_file_cannot_be_removed(jvm):
    result = helper_as_root(jvm, "remove", "1", "/tmp/never-written.jfr")
    assert result.returncode == 13
    assert result.stderr == (
        "cannot remove /tmp/never-written.jfr in the filesystem of pid 1: "
        "No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        (
            "/etc/passwd",
            "'/etc/passwd' is not under /tmp; only files in the JVM's /tmp can be read or removed",
        ),
        (
            "/tmp/../etc/passwd",
            "'/tmp/../etc/passwd' contains '..'; give a path under /tmp without it",
        ),
        ("/tmp/a/..", "'/tmp/a/..' contains '..'; give a path under /tmp without it"),
        ("/tmp/", "name a file under /tmp, not a folder"),
    ],
)
@pytest.mark.parametrize("mode", ["read", "remove"])
def test_paths_outside_tmp_are_refused(jvm, mode, path, sentence):
    result = helper_as_root(jvm, mode, "1", path)
    assert result.returncode == 2
    assert result.stderr == sentence + "\n"
