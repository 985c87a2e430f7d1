"""The steps and analysers of the tools on-call asks for first: `threaddump` (with the
JSON dump that shows virtual threads), `hot` (which threads burn the CPU now) and `gc`.

Each tool's options become agent steps here, and its analyser reads those steps back by name;
the parsing and the findings live in `threaddump/`, `hot.py` and `gc.py`.
"""

from __future__ import annotations

import dataclasses
import io

from bot.jvm.gc import summarise_gc
from bot.jvm.hot import summarise_hot
from bot.jvm.steps import Fetch, Jcmd, Pause, Snippet, Step, repeated
from bot.jvm.threaddump import (
    carriers_in_thread_print,
    merge_analyses,
    summarise_thread_dumps,
    virtual_thread_summary,
)
from bot.jvm.threaddump.jdk_json import read_thread_dump_json
from bot.model.request import Options
from bot.model.results import Analysis, Attachment, ToolRun

JSON_COMMAND = "threaddump.json.cmd"
JSON = "threaddump.json"


def threaddump_steps(options: Options) -> tuple[Step, ...]:
    """`count` dumps `interval` apart, then (JDK 21+) the JSON dump, read back through the
    JVM's /tmp and removed; older JDKs answer "Unknown diagnostic command" and that is all."""
    dumps = repeated(
        "threaddump", "Thread.print -l", options.number("count", 1), options.number("interval", 5)
    )
    return (
        *dumps,
        Jcmd(JSON_COMMAND, "Thread.dump_to_file -format=json @FILE.json@", optional=True),
        Fetch(JSON, "json", optional=True, attached=True, virtual_threads_only=True),
    )


def summarise_threaddump_run(run: ToolRun) -> Analysis:
    """The platform threads from `Thread.print`, merged with the virtual threads of the JSON
    dump when the JVM wrote one; why not, when it should have and could not."""
    texts = [s.text for s in run.steps if s.name.startswith("threaddump") and "json" not in s.name]
    platform = summarise_thread_dumps(texts, run.options)
    json = run.step(JSON)
    if json is not None and json.exit_code == 0 and json.text.strip():
        body = json.text.encode("utf-8", "replace")  # once: it is parsed and attached
        dump = read_thread_dump_json(io.BytesIO(body))
        merged = merge_analyses(
            platform, virtual_thread_summary(dump, carriers_in_thread_print(texts[-1]))
        )
        if not any(t.virtual for t in dump.threads):
            return merged  # the text dump already holds every thread, with its locks
        # The only listing of the virtual threads: the user gets the JSON file too.
        listing = Attachment(
            "threads.json",
            "JSON thread dump, virtual threads included",
            body,
        )
        return dataclasses.replace(merged, attachments=(*merged.attachments, listing))
    if json is not None and json.exit_code == 0:
        return platform  # the JVM wrote it, and it held no virtual thread
    answer = run.text_of(JSON_COMMAND).strip()
    if not answer or "Unknown diagnostic command" in answer:  # JDK < 21: no virtual threads
        return platform
    note = (
        "the JVM could not write its JSON thread dump into its /tmp, so virtual threads are "
        f"not counted (it said: {answer.splitlines()[-1][:200]}); mount a writable emptyDir "
        "there"
    )
    return Analysis(platform.headline, platform.findings, (*platform.notes, note))


def hot_steps(options: Options) -> tuple[Step, ...]:
    """Every thread's CPU time, a thread dump, `interval` s, the CPU times again."""
    return (
        Snippet("hot.1", "sample"),
        Jcmd("threaddump", "Thread.print"),
        Pause(options.number("interval", 2)),
        Snippet("hot.2", "sample"),
    )


def summarise_hot_run(run: ToolRun) -> Analysis:
    return summarise_hot(
        run.text_of("hot.1"),
        run.text_of("threaddump"),
        run.text_of("hot.2"),
        float(run.options.number("interval", 2)),
        run.options.number("top", 5),
    )


def gc_steps(options: Options) -> tuple[Step, ...]:
    """The jvmstat counters twice, `interval` apart, with the heap and the flags between."""
    return (
        Snippet("gc.1", "perfdata"),
        Jcmd("heap", "GC.heap_info"),
        Jcmd("flags", "VM.flags"),
        Pause(options.number("interval", 5)),
        Snippet("gc.2", "perfdata"),
    )


def summarise_gc_run(run: ToolRun) -> Analysis:
    return summarise_gc(
        run.text_of("gc.1"),
        run.text_of("gc.2"),
        float(run.options.number("interval", 5)),
        flags_text=run.text_of("flags") or None,
        heap_info_text=run.text_of("heap") or None,
    )
