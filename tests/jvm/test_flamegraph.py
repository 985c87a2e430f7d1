"""Flame graphs: the collapsed stacks equal those built from `jfr print --json`, and the
layout the renderer drew puts each workload's known frames on top, coloured by kind, with
narrow frames merged. The PNG is decoded with Pillow; pixels are not inspected."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.jvm.flamegraph import (
    MAX_DEPTH,
    MIN_WIDTH,
    WIDTH,
    FlameLayout,
    FlameRect,
    collapsed_stacks,
    frame_kind,
    layout_flame_graph,
    profile_flame_graph,
    render_flame_graph,
)
from bot.jvm.jfr import Frame, read_recording
from bot.jvm.profile import WeightedStack, summarise_profile
from tests.support.jfr_tool import print_json, values_of

CORPUS = Path(__file__).parent / "data" / "jfr"


def _frame(name: str, kind: str = "JIT compiled", hidden: bool = False) -> Frame:
    class_name, _, method = name.rpartition(".")
    return Frame(class_name, method, "()V", 1, 0, kind, hidden)


def _stack(weight: int, *names: str) -> WeightedStack:
    """A stack written root first, as people read a flame graph bottom-up."""
    return WeightedStack(tuple(_frame(n) for n in reversed(names)), weight)


def _above(layout: FlameLayout, rect: FlameRect) -> list[FlameRect]:
    return [
        r
        for r in layout.rects
        if r.depth == rect.depth + 1 and r.x < rect.x + rect.width and r.x + r.width > rect.x
    ]


def _parent(layout: FlameLayout, rect: FlameRect) -> FlameRect:
    (parent,) = [
        r
        for r in layout.rects
        if r.depth == rect.depth - 1 and r.x <= rect.x and rect.x + rect.width <= r.x + r.width
    ]
    return parent


@pytest.mark.parametrize("name", ["cpu-hotspot", "thread-pool-exhaustion"])
def test_collapsed_stacks_equal_the_stacks_jfr_prints(name: str) -> None:
    path = CORPUS / f"{name}.jfr"
    expected: Counter[str] = Counter()
    for sample in values_of(print_json(path, "jdk.ExecutionSample"), "jdk.ExecutionSample"):
        frames = [
            f"{f['method']['type']['name'].replace('/', '.')}.{f['method']['name']}"
            for f in reversed(sample["stackTrace"]["frames"])
        ]
        expected[";".join(frames)] += 1

    text = collapsed_stacks(summarise_profile(read_recording(path), "cpu").stacks)

    lines = text.splitlines()
    assert {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in lines} == expected
    assert len(lines) == len(expected)
    assert text.endswith("\n")


def test_the_burners_frame_is_on_top_of_the_widest_tower(
    workload_recording: Any, java_version: int
) -> None:
    summary = summarise_profile(read_recording(workload_recording(java_version, "cpu")), "cpu")

    layout = profile_flame_graph(summary)

    root = next(r for r in layout.rects if r.depth == 0)
    assert (root.label, root.samples, root.x, root.width) == ("all", summary.events, 6, WIDTH - 12)
    burner = max(
        (r for r in layout.rects if r.label == "ProfileWorkloads.burnCpu"), key=lambda r: r.samples
    )
    assert burner.samples == summary.methods[0].self_samples
    assert burner.kind == "app"
    assert _above(layout, burner) == []  # nothing runs above it: it is the top frame
    assert burner.width > layout.width / 2
    chain = [burner]
    while chain[-1].depth > 0:
        chain.append(_parent(layout, chain[-1]))
    labels = [r.label for r in chain]
    assert labels[-1] == "all" and labels[-2] == "java.lang.Thread.run"
    assert chain[-2].kind == "jdk"
    assert layout.title.startswith(f"CPU: {summary.events:,} samples in ")


def test_alloc_and_lock_graphs_weigh_bytes_and_wait_time(workload_recording: Any) -> None:
    alloc = summarise_profile(read_recording(workload_recording(25, "alloc")), "alloc")
    lock = summarise_profile(read_recording(workload_recording(25, "lock")), "lock")

    alloc_layout, lock_layout = profile_flame_graph(alloc), profile_flame_graph(lock)

    assert alloc_layout.total == alloc.total_weight and alloc_layout.unit == "bytes"
    assert lock_layout.total == lock.total_weight and lock_layout.unit == "ns"
    top_alloc = max(
        (r for r in alloc_layout.rects if r.label == "ProfileWorkloads.allocatePayloads"),
        key=lambda r: r.samples,
    )
    assert top_alloc.samples == alloc.allocation_sites[0].weight
    assert _above(alloc_layout, top_alloc) == []
    holders = [r for r in lock_layout.rects if r.label == "ProfileWorkloads.holdMonitor"]
    assert sum(r.samples for r in holders) == lock.locks[0].wait_ns
    assert alloc_layout.title.startswith("Allocation: ")
    assert lock_layout.title.startswith("Lock waits: ")


def test_children_stay_inside_their_parent_and_sum_to_no_more() -> None:
    summary = summarise_profile(read_recording(CORPUS / "deadlock.jfr"), "lock")
    stacks = summarise_profile(read_recording(CORPUS / "thread-pool-exhaustion.jfr"), "cpu").stacks

    for layout in (profile_flame_graph(summary), layout_flame_graph(stacks)):
        for rect in layout.rects:
            assert rect.width >= 1
            if rect.depth == 0:
                continue
            parent = _parent(layout, rect)
            children = [c for c in _above(layout, parent)]
            assert sum(c.width for c in children) <= parent.width
            assert sum(c.samples for c in children) <= parent.samples


def test_frames_narrower_than_a_few_pixels_merge_into_one() -> None:
    stacks = [_stack(1000, "app.Main.main", "app.Main.work")]
    stacks += [_stack(1, "app.Main.main", f"app.Main.rare{i}", "app.Main.deeper") for i in range(5)]

    layout = layout_flame_graph(stacks)

    assert [r.label for r in layout.rects if r.label.startswith("app.Main.rare")] == []
    assert [r.label for r in layout.rects if r.label == "app.Main.deeper"] == []
    (merged,) = [r for r in layout.rects if r.kind == "merged"]
    assert (merged.label, merged.depth, merged.samples) == ("… 5 frames", 2, 5)
    (work,) = [r for r in layout.rects if r.label == "app.Main.work"]
    assert work.x + work.width == merged.x  # heaviest first, the merged rest after it
    assert all(r.width >= MIN_WIDTH for r in layout.rects if r.kind != "merged")


def test_one_narrow_frame_keeps_its_name() -> None:
    layout = layout_flame_graph(
        [
            _stack(1000, "app.Main.main", "app.Main.work"),
            _stack(3, "app.Main.main", "app.Main.rare"),
        ]
    )

    (merged,) = [r for r in layout.rects if r.kind == "merged"]
    assert (merged.label, merged.samples) == ("app.Main.rare", 3)


def test_frames_are_coloured_by_kind() -> None:
    assert frame_kind(_frame("app.Main.work")) == "app"
    assert frame_kind(_frame("java.util.HashMap.get")) == "jdk"
    assert frame_kind(_frame("jdk.internal.misc.Unsafe.park", kind="Native")) == "native"
    assert frame_kind(_frame("sun.nio.ch.Net.poll", kind="Native")) == "native"
    assert frame_kind(_frame("app.Main$$Lambda.0x1.run", kind="Interpreted", hidden=True)) == "jvm"
    assert frame_kind(_frame("javax.net.ssl.SSLSocket.read")) == "jdk"


def test_deep_stacks_are_cut_at_the_row_limit_and_say_so() -> None:
    layout = layout_flame_graph([_stack(5, *(f"app.Deep.f{i}" for i in range(MAX_DEPTH + 20)))])

    assert max(r.depth for r in layout.rects) == MAX_DEPTH - 1
    assert layout.depth_cut


def test_the_png_decodes_at_the_layouts_size(workload_recording: Any) -> None:
    summary = summarise_profile(read_recording(workload_recording(17, "lock")), "lock")
    layout = profile_flame_graph(summary)

    png = render_flame_graph(layout)

    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    assert image.size == (layout.width, layout.height) == (WIDTH, layout.height)
    rows = max(r.depth for r in layout.rects) + 1
    assert layout.height >= rows * 20


def test_an_empty_profile_draws_an_empty_graph() -> None:
    layout = layout_flame_graph([])

    image = Image.open(io.BytesIO(render_flame_graph(layout)))
    assert layout.rects == () and layout.total == 0
    assert image.size == (layout.width, layout.height)
    assert collapsed_stacks([]) == ""
