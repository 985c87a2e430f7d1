"""Benchmark: redact a 5 MB `VM.system_properties` and a 10,000-thread dump, both built from
real JDK 25 cowweb output, the first with secrets in every copy of its properties; each
against a baseline that only reads the same text from disk and splits it into lines.

Goal: redaction ≤ 35× the baseline. The baseline is C speed (one read, str.splitlines);
redaction matches secret-looking keys on every line from Python. Measured here at 14× on the
dump and 23× on the properties, which hold a secret in every copy and so are rewritten far
more; 35× leaves half again as much as the worse one, and a pass that stops being linear in
the text overshoots it at 5 MB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.redaction.redactor import REDACTED, Redactor
from scripts.synth_threaddump import synthesise_dump
from tests.bench.goals import assert_goal, median_seconds
from tests.support.jvms import jattach_text

MEGABYTES = 5
GOAL_RATIO = 35.0
SECRET_ARGS = (
    "-Ddb.password=hunter2",
    "-Dapi.token=abc123",
    "-Djdbc.url=jdbc:postgresql://app:s3cr3t@db:5432/x?password=pw",
    "-DAWS_SECRET_ACCESS_KEY=AKIAXYZ",
)
SECRETS_PER_COPY = 5  # the URL holds two: its user-info and its password parameter


def grow_properties(real: str, megabytes: int) -> tuple[str, int]:
    """`real` repeated with every key prefixed by `appN.` until it is `megabytes` long."""
    header, _, body = real.partition("\n")
    lines = [line for line in body.splitlines() if line]
    copies: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        copy = "".join(f"app{len(copies)}.{line}\n" for line in lines)
        copies.append(copy)
        size += len(copy)
    return header + "\n" + "".join(copies), len(copies)


def read_and_split(path: Path) -> list[str]:
    """The baseline: read the text and split it into lines, nothing more."""
    return path.read_text().splitlines()


def record(benchmark, path: Path, baseline_s: float) -> None:
    median_s: float = benchmark.stats.stats.median  # robust to a neighbour stealing one round
    megabytes = path.stat().st_size / 1e6
    benchmark.extra_info.update(
        megabytes=round(megabytes, 2),
        mb_per_s=round(megabytes / median_s, 1),
        baseline_s=round(baseline_s, 4),
        redact_s=round(median_s, 4),
    )
    assert_goal(benchmark, "ratio_to_read_and_split", median_s / baseline_s, GOAL_RATIO)


def test_bench_redact_5mb_of_system_properties(benchmark, cowweb_factory, tmp_path):
    jvm = cowweb_factory(25, jvm_args=SECRET_ARGS)
    text, copies = grow_properties(jattach_text(jvm.pid, "VM.system_properties"), MEGABYTES)
    path = tmp_path / "sysprops.txt"
    path.write_text(text)
    redactor = Redactor.default()

    benchmark.group = "redaction-sysprops"
    baseline_s = median_seconds(lambda: read_and_split(path))
    redacted, count = benchmark.pedantic(
        lambda: redactor.redact(path.read_text(), "properties"), rounds=5, warmup_rounds=1
    )

    assert count == copies * SECRETS_PER_COPY
    assert "hunter2" not in redacted and "s3cr3t" not in redacted
    assert redacted.count(REDACTED) == count
    record(benchmark, path, baseline_s)


def test_bench_redact_10000_thread_dump(benchmark, cowweb_factory, tmp_path):
    jvm = cowweb_factory(25, deadlock=True)
    text = synthesise_dump(jattach_text(jvm.pid, "Thread.print -l"), threads=10_000)
    path = tmp_path / "threaddump.txt"
    path.write_text(text)
    redactor = Redactor.default()

    benchmark.group = "redaction-threaddump"
    baseline_s = median_seconds(lambda: read_and_split(path))
    redacted, count = benchmark.pedantic(
        lambda: redactor.redact(path.read_text(), "text"), rounds=5, warmup_rounds=1
    )

    assert (redacted, count) == (text, 0)  # nothing in a thread dump is a secret
    record(benchmark, path, baseline_s)


# Hostile shapes (each a unit repeated), 1.2 MB or so each (long enough that the median of
# a few milliseconds is not noise): a scan that backtracks over what it already read is
# quadratic in them.
HOSTILE = [
    ("a=", 150_000),
    ('"a": ', 60_000),
    ("jdbc:oracle:thin:", 18_000),
    ("@", 300_000),
    ("a\\\n", 100_000),
    ("\\", 300_000),
    (" --password", 27_000),
    ("-----BEGIN PRIVATE KEY-----", 11_000),
    ("password=", 33_000),
]
LINEAR_GOAL = 3.0  # twice the text: 2x when linear, 4x when quadratic


@pytest.mark.parametrize(("unit", "count"), HOSTILE, ids=[repr(u[:12]) for u, _ in HOSTILE])
def test_bench_hostile_text_takes_linear_time(benchmark, unit: str, count: int) -> None:
    redactor = Redactor.default()
    half, whole = unit * (2 * count), unit * (4 * count)

    def redact(text: str) -> None:
        for kind in ("properties", "command_lines", "text"):
            redactor.redact(text, kind)

    # The fastest of several rounds on both sides: a neighbour's burst only ever adds time.
    baseline = min(timed(redact, half) for _ in range(5))
    benchmark.group = "redaction-linear"
    benchmark.pedantic(redact, args=(whole,), rounds=5)
    assert_goal(benchmark, "twice_the_text", benchmark.stats.stats.min / baseline, LINEAR_GOAL)


def timed(call: Callable[[str], None], text: str) -> float:
    started = time.perf_counter()
    call(text)
    return time.perf_counter() - started
