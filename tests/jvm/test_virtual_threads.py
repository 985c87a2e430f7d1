"""Virtual threads on real JVMs 21 and 25: `data/VirtualThreads.java` parks PARKED virtual threads
in OrderService.awaitStock, sleeps one inside `synchronized` (pins its carrier on 21 only,
JEP 491) and one inside a class initializer (pins on both), and deadlocks vt-left/vt-right.

Expected numbers are the ones this test chose; carrier names come from the raw jcmd output
(Thread.print's "Carrying virtual thread #N" on 21, the JSON's "carrier" tid on 25).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.jvm.incident import summarise_threaddump_run
from bot.jvm.threaddump import (
    merge_analyses,
    read_dumps,
    summarise_dump_file,
    summarise_thread_dumps,
    summarise_virtual_threads,
)
from bot.model.request import Options
from bot.model.results import StepOutput, ToolRun
from tests.support.jvms import compile_test_app, jattach_text, jdk_home, running_test_app

DATA = Path(__file__).parent / "data"
PARKED = 40
VIRTUAL = PARKED + 4  # + ledger-writer, tax-table-loader, vt-left, vt-right


@dataclass(frozen=True)
class VirtualDump:
    version: int
    json_text: str
    thread_print: str

    def tid(self, name: str) -> str:
        """The thread id the raw JSON gives the thread called `name`."""
        match = re.search(
            r'"tid": "(\d+)",(?:\s*"[a-z]+": [^\n]*,)*?\s*"name": "' + name, self.json_text
        )
        assert match, f"{name} is not in the JSON"
        return match.group(1)

    def carrier_in_thread_print(self, tid: str) -> str:
        match = re.search(
            r'^"([^"]+)" #\d+ .*\n   Carrying virtual thread #' + tid + r"$",
            self.thread_print,
            re.M,
        )
        assert match, f"no carrier of #{tid} in Thread.print"
        return match.group(1)


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_test_app(DATA / "VirtualThreads.java", tmp_path_factory.mktemp("virtual"))


@pytest.fixture(scope="module", params=[21, 25], ids=["jdk21", "jdk25"])
def taken(
    request: pytest.FixtureRequest, classes: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VirtualDump]:
    java = jdk_home(request.param) / "bin" / "java"
    argv = [
        str(java),
        "-Xmx64m",
        "-XX:+UseSerialGC",
        # Four carriers stay pinned on JDK 21: leave room for the parked ones to start.
        "-Djdk.virtualThreadScheduler.parallelism=6",
        "-cp",
        str(classes),
        "VirtualThreads",
        str(PARKED),
    ]
    with running_test_app(argv, b"virtual threads ready") as pid:
        out = tmp_path_factory.mktemp("dump") / "threads.json"
        reply = jattach_text(pid, f"Thread.dump_to_file -format=json {out}")
        assert "Created" in reply, reply
        yield VirtualDump(request.param, out.read_text(), jattach_text(pid, "Thread.print -l"))


def test_virtual_threads_are_counted_and_grouped_by_what_they_do_and_where(taken):
    analysis = summarise_virtual_threads(taken.json_text, taken.thread_print)
    assert analysis.headline.startswith(
        f"{VIRTUAL} virtual threads: {PARKED} parked in VirtualThreads$OrderService.awaitStock, "
    )
    assert f"{PARKED} virtual threads parked in VirtualThreads$OrderService.awaitStock: order-" in (
        "\n".join(analysis.findings)
    )
    assert "1 virtual thread sleeping in VirtualThreads$Ledger.writeUnderLock: ledger-writer" in (
        analysis.findings
    )


# JDK 21 pins a carrier inside synchronized; 24+ does not (JEP 491).
@pytest.mark.parametrize("taken", [21], indirect=True, ids=["jdk21"])
def test_jdk21_names_both_carriers_pinned_by_sleeping_inside_synchronized_or_clinit(taken):
    analysis = summarise_virtual_threads(taken.json_text, taken.thread_print)
    ledger = taken.carrier_in_thread_print(taken.tid("ledger-writer"))
    tax = taken.carrier_in_thread_print(taken.tid("tax-table-loader"))
    pinned = analysis.findings[0]
    assert pinned.startswith("⚠ 2 carriers pinned by a virtual thread, so running no other: ")
    assert f"{ledger} by ledger-writer (sleeping in VirtualThreads$Ledger.writeUnderLock)" in pinned
    assert (
        f"{tax} by tax-table-loader (sleeping in VirtualThreads$TaxTable.slowRates, inside a "
        "class initializer)"
    ) in pinned
    # JDK 21's JSON has no states: the two blocked on a monitor are mounted, doing what it
    # does not say, and the summary says so instead of guessing.
    assert (
        "2 virtual threads on a carrier in VirtualThreads.lockBoth: vt-left, vt-right"
        in analysis.findings
    )
    assert any("no thread states (JDK 21)" in note for note in analysis.notes)


# JDK 25's JSON has states, locks and carriers.
@pytest.mark.parametrize("taken", [25], indirect=True, ids=["jdk25"])
def test_jdk25_pins_only_in_the_class_initializer_and_finds_the_virtual_deadlock(taken):
    analysis = summarise_virtual_threads(taken.json_text)  # the JSON alone names the carrier
    body = json.loads(taken.json_text)["threadDump"]
    threads = [t for c in body["threadContainers"] for t in c["threads"]]
    carrier_tid = next(t["carrier"] for t in threads if t["name"] == "tax-table-loader")
    carrier = next(t["name"] for t in threads if t["tid"] == carrier_tid)
    assert analysis.findings[0] == (
        f"⚠ 1 carrier pinned by a virtual thread, so running no other: {carrier} by "
        "tax-table-loader (sleeping in VirtualThreads$TaxTable.slowRates, inside a class "
        "initializer)"
    )
    assert "ledger-writer" not in analysis.findings[0]  # unmounted while it sleeps in synchronized
    deadlock = analysis.findings[1]
    assert deadlock.startswith("⚠ deadlock vt-left ↔ vt-right: vt-left waits for <0x")
    assert (
        "2 virtual threads blocked in VirtualThreads.lockBoth: vt-left, vt-right"
        in analysis.findings
    )
    assert analysis.notes == ()


def test_thread_print_alone_says_it_cannot_show_unmounted_virtual_threads(taken):
    platform = summarise_thread_dumps([taken.thread_print], Options())
    assert any("Thread.dump_to_file -format=json" in note for note in platform.notes)
    assert "order-" not in " ".join(platform.findings)  # parked ones are not in Thread.print
    merged = merge_analyses(
        platform, summarise_virtual_threads(taken.json_text, taken.thread_print)
    )
    assert merged.headline.startswith(platform.headline + f" · {VIRTUAL} virtual threads: ")
    assert merged.findings[0].startswith("⚠")


def test_the_json_posted_gzipped_reads_back_as_a_file(taken):
    file = read_dumps(gzip.compress(taken.json_text.encode()), "threads.json.gz")
    assert file.format == "thread-dump-json"
    analysis = summarise_dump_file(file)
    assert f" · {VIRTUAL} virtual threads: {PARKED} parked in " in analysis.headline
    if taken.version == 25:
        assert "⚠ deadlock: vt-left ↔ vt-right" in analysis.headline


def test_threaddump_hands_over_the_json_when_it_holds_virtual_threads(taken):
    run = ToolRun(
        (
            StepOutput("threaddump.1", 1, 0, taken.thread_print),
            StepOutput("threaddump.json.cmd", 1, 0, "Created /tmp/jdebug-x.json\n"),
            StepOutput("threaddump.json", 1, 0, taken.json_text),
        )
    )

    analysis = summarise_threaddump_run(run)

    (listing,) = analysis.attachments
    assert listing.name == "threads.json"
    assert listing.data == taken.json_text.encode()
    assert f"{VIRTUAL} virtual threads" in analysis.headline
