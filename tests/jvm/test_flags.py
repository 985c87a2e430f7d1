"""VM.flags and VM.flags -all from real JVMs: typed values, origins, the summary's claims."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.flags import parse_vm_flags, summarise_flags
from bot.model.request import Options
from tests.support.jvms import RunningJvm, jattach_text, start_cowweb, stop

MiB = 1 << 20
DUMP_PATH = "/tmp/jdebug cows/dump=1.hprof"
# The fixture adds -Xmx64m -XX:+UseSerialGC; values with spaces and `=` test the one-line split.
SET_FLAGS = (
    "-Xms32m",
    "-XX:MaxRAMPercentage=40",
    "-XX:+HeapDumpOnOutOfMemoryError",
    f"-XX:HeapDumpPath={DUMP_PATH}",
    "-XX:OnOutOfMemoryError=kill -9 %p",
    "-XX:OnOutOfMemoryError=echo moo=1",
    "-XX:ThreadStackSize=512",
)
EXPECTED = {
    "InitialHeapSize": 32 * MiB,
    "MaxHeapSize": 64 * MiB,
    "MaxRAMPercentage": 40.0,
    "UseSerialGC": True,
    "HeapDumpOnOutOfMemoryError": True,
    "HeapDumpPath": DUMP_PATH,
    "OnOutOfMemoryError": "kill -9 %p\necho moo=1",
    "ThreadStackSize": 512,
}
TYPES = {
    "bool": bool,
    "int": int,
    "uint": int,
    "intx": int,
    "uintx": int,
    "uint64_t": int,
    "size_t": int,
    "double": float,
    "ccstr": str,
    "ccstrlist": str,
}

FlagTexts = Callable[[int], tuple[str, str]]


@pytest.fixture(scope="module")
def flags_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlagTexts]:
    """`flags_of(version)`: (VM.flags, VM.flags -all) of a cowweb started with SET_FLAGS.

    Each JVM is stopped as soon as both outputs are read; the tests share the texts.
    """
    texts: dict[int, tuple[str, str]] = {}
    log_dir = tmp_path_factory.mktemp("cowweb-flags")

    def capture(version: int) -> tuple[str, str]:
        if version not in texts:
            jvm = start_cowweb(version, log_dir, jvm_args=SET_FLAGS)
            try:
                short = jattach_text(jvm.pid, "VM.flags")
                texts[version] = (short, jattach_text(jvm.pid, "VM.flags -all"))
            finally:
                stop(jvm)
        return texts[version]

    yield capture


def _table_rows(text: str) -> int:
    """Flags in a -all table counted by layout: one line each, bar `+=` continuations."""
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(1 for line in lines if line.strip() != "[Global flags]" and "+=" not in line)


def test_short_flags_parse_into_the_typed_values_set_on_the_command_line(
    flags_of: FlagTexts, java_version: int
) -> None:
    text, _ = flags_of(java_version)

    flags = parse_vm_flags(text)

    assert not flags.table
    assert flags.unrecognised == ()
    for name, value in EXPECTED.items():
        assert flags.value(name) == value, name
        assert type(flags.value(name)) is type(value), name


def test_short_flags_headline_names_gc_heap_sizes_and_only_what_is_known_of_containers(
    flags_of: FlagTexts, java_version: int
) -> None:
    text, _ = flags_of(java_version)

    analysis = summarise_flags([text], Options())

    assert analysis.headline.startswith("Serial GC, heap 32 MiB initial / 64 MiB max")
    assert "(MaxRAMPercentage 40%)" in analysis.headline
    # UseContainerSupport is at its default, so the short form does not list it.
    assert "container support at its default (not listed)" in analysis.headline
    assert f"Heap dump on OutOfMemoryError: on, to {DUMP_PATH}" in analysis.findings
    assert "On OutOfMemoryError it runs: kill -9 %p ; echo moo=1" in analysis.findings
    assert analysis.notes == ()


def test_all_flags_table_types_every_value_and_records_origins(
    flags_of: FlagTexts, java_version: int
) -> None:
    _, text = flags_of(java_version)

    flags = parse_vm_flags(text)

    assert flags.table
    assert flags.unrecognised == ()
    assert len(flags.flags) == _table_rows(text) > 300
    for flag in flags.flags.values():
        assert flag.type in TYPES, flag
        assert type(flag.value) is TYPES[flag.type], flag
        assert flag.kind and flag.origin, flag
    for name, value in EXPECTED.items():
        assert flags.value(name) == value, name
        assert flags.flags[name].origin == "command line", name
    assert flags.flags["UseParallelGC"].value is False
    assert flags.flags["UseParallelGC"].origin == "default"


def test_short_and_all_forms_agree_on_every_flag_that_differs_from_its_default(
    flags_of: FlagTexts, java_version: int
) -> None:
    short_text, table_text = flags_of(java_version)
    short, table = parse_vm_flags(short_text), parse_vm_flags(table_text)

    not_default = {name for name, flag in table.flags.items() if flag.origin != "default"}
    assert not_default <= set(short.flags)
    # The short form may also list diagnostic flags that -all hides unless unlocked.
    for name in set(short.flags) & set(table.flags):
        assert name in not_default, name
        assert short.value(name) == table.value(name), name
        assert type(short.value(name)) is type(table.value(name)), name


def test_all_flags_summary_lists_command_line_flags_and_notices_ignored_ram_percentage(
    flags_of: FlagTexts, java_version: int
) -> None:
    _, text = flags_of(java_version)

    analysis = summarise_flags([text], Options.of(all=True))

    assert "container support on" in analysis.headline
    set_line = next(f for f in analysis.findings if f.startswith("Set on the command line: "))
    for shown in (
        "InitialHeapSize=32 MiB",
        "MaxHeapSize=64 MiB",
        "MaxRAMPercentage=40",
        "UseSerialGC=true",
        "ThreadStackSize=512 KiB",
    ):
        assert shown in set_line
    assert "MaxRAMPercentage has no effect: MaxHeapSize (-Xmx) is set explicitly" in (
        analysis.findings
    )
    assert analysis.notes == ()


@pytest.mark.parametrize("form", ["VM.flags", "VM.flags -all"])
def test_disabled_container_support_is_called_out(
    cowweb_factory: Callable[..., RunningJvm], form: str
) -> None:
    jvm = cowweb_factory(25, jvm_args=("-XX:-UseContainerSupport",))

    analysis = summarise_flags([jattach_text(jvm.pid, form)], Options())

    assert "container support off" in analysis.headline
    assert any(f.startswith("Container support is off") for f in analysis.findings)


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("-XX:+UseG1GC",), "G1 GC"),
        (("-XX:+UseParallelGC",), "Parallel GC"),
        (("-XX:+UnlockExperimentalVMOptions", "-XX:+UseZGC"), "ZGC"),
        (("-XX:+UnlockExperimentalVMOptions", "-XX:+UseShenandoahGC"), "Shenandoah GC"),
    ],
    ids=["g1", "parallel", "z", "shenandoah"],
)
@pytest.mark.parametrize("version", [11, 25], ids=["jdk11", "jdk25"])
def test_headline_names_the_collector_in_use(
    cowweb_factory: Callable[..., RunningJvm], version: int, args: tuple[str, ...], label: str
) -> None:
    jvm = cowweb_factory(version, jvm_args=("-XX:-UseSerialGC", *args))

    analysis = summarise_flags([jattach_text(jvm.pid, "VM.flags")], Options())

    assert analysis.headline.startswith(f"{label}, heap 64 MiB")


def test_truncated_table_keeps_every_complete_row_and_notes_the_broken_one(
    flags_of: FlagTexts,
) -> None:
    _, text = flags_of(21)
    full = parse_vm_flags(text)

    for cut in range(0, len(text), 331):
        partial = parse_vm_flags(text[:cut])
        names = list(partial.flags)
        # Every row but the last one read is whole; the last may have lost its end.
        for name in names[:-1]:
            assert partial.flags[name] == full.flags[name], (cut, name)
        summarise_flags([text[:cut]], Options.of(all=True))

    middle = text.index("MaxHeapSize") + 30
    analysis = summarise_flags([text[:middle]], Options.of(all=True))
    assert any("not recognised" in n for n in analysis.notes)


def test_error_line_among_flags_is_noted_and_the_flags_still_read(flags_of: FlagTexts) -> None:
    text = flags_of(17)[0] + "\njava.io.IOException: stream closed\n"

    analysis = summarise_flags([text], Options())

    assert analysis.headline.startswith("Serial GC, heap 32 MiB initial / 64 MiB max")
    assert analysis.notes == (
        "1 part(s) were not recognised, e.g. 'java.io.IOException: stream closed'.",
    )


def test_empty_output_says_no_flags_were_found() -> None:
    analysis = summarise_flags([], Options())

    assert analysis.headline == "No JVM flags found in the output"
    assert analysis.notes


@settings(max_examples=300)
@given(st.text())
def test_any_text_gives_an_analysis(text: str) -> None:
    for options in (Options(), Options.of(all=True)):
        assert summarise_flags([text], options).headline
