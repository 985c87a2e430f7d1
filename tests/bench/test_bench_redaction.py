"""Benchmark: redact a 5 MB `VM.system_properties` and a 10,000-thread dump, both built from
real JDK 25 cowweb output, the first with secrets in every copy of its properties.

Goals: the 5 MB Properties text in ≤ 0.5 s ("well under a second" before a Slack upload),
the dump in ≤ 0.5 s; throughput (MB/s) is recorded in `extra_info` for `make bench`.
"""

from __future__ import annotations

from bot.redaction.redactor import REDACTED, Redactor
from scripts.synth_threaddump import synthesise_dump
from tests.support.jvms import jattach_text

MEGABYTES = 5
GOAL_S = 0.5
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


def record(benchmark, text: str) -> float:
    median_s: float = benchmark.stats.stats.median  # robust to a neighbour stealing one round
    megabytes = len(text.encode()) / 1e6
    benchmark.extra_info["megabytes"] = round(megabytes, 2)
    benchmark.extra_info["mb_per_s"] = round(megabytes / median_s, 1)
    return median_s


def test_bench_redact_5mb_of_system_properties(benchmark, cowweb_factory):
    jvm = cowweb_factory(25, jvm_args=SECRET_ARGS)
    text, copies = grow_properties(jattach_text(jvm.pid, "VM.system_properties"), MEGABYTES)
    redactor = Redactor.default()

    benchmark.group = "redaction"
    redacted, count = benchmark.pedantic(
        redactor.redact, args=(text, "sysprops"), rounds=5, warmup_rounds=1
    )

    assert count == copies * SECRETS_PER_COPY
    assert "hunter2" not in redacted and "s3cr3t" not in redacted
    assert redacted.count(REDACTED) == count
    median_s = record(benchmark, text)
    assert median_s <= GOAL_S, f"{median_s:.3f} s for {MEGABYTES} MB (goal {GOAL_S} s)"


def test_bench_redact_10000_thread_dump(benchmark, cowweb_factory):
    jvm = cowweb_factory(25, deadlock=True)
    text = synthesise_dump(jattach_text(jvm.pid, "Thread.print -l"), threads=10_000)
    redactor = Redactor.default()

    benchmark.group = "redaction"
    redacted, count = benchmark.pedantic(
        redactor.redact, args=(text, "threaddump"), rounds=5, warmup_rounds=1
    )

    assert (redacted, count) == (text, 0)  # nothing in a thread dump is a secret
    median_s = record(benchmark, text)
    assert median_s <= GOAL_S, f"{median_s:.3f} s for 10,000 threads (goal {GOAL_S} s)"
