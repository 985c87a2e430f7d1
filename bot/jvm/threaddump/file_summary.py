"""`summarise_dump_files`: the summary of dump files people already have, with the same
multi-dump analysis (CPU growth, threads stuck across dumps) as `threaddump count=3`.

The files come from `read_dumps`; text dumps from several files are read as one sequence in
the order given (dump-0.txt, dump-1.txt, ...), JSON thread dumps add their virtual threads.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.jvm.threaddump.analysis import summarise_parsed_dumps
from bot.jvm.threaddump.model import DumpFile
from bot.jvm.threaddump.virtual_threads import merge_analyses, virtual_thread_summary
from bot.jvm.threaddump.wording import plural
from bot.model.request import Options
from bot.model.results import Analysis


def summarise_dump_file(file: DumpFile, options: Options | None = None) -> Analysis:
    """One file's summary, or its one sentence when it is not a dump jdebug reads."""
    return summarise_dump_files([file], options)


def summarise_dump_files(files: Sequence[DumpFile], options: Options | None = None) -> Analysis:
    """The summary of several files of one JVM's dumps, in the order given."""
    options = options or Options()
    readable = [f for f in files if f.unreadable is None]
    skipped = [f"{f.name or 'file'}: {f.unreadable}" for f in files if f.unreadable is not None]
    file_notes = [note for f in files for note in f.notes]
    if not readable:
        if len(files) == 1:
            return Analysis(headline=files[0].unreadable or "", notes=files[0].notes)
        return Analysis(
            headline=f"None of the {len(files)} files is a thread dump jdebug reads.",
            notes=(*skipped, *file_notes),
        )
    dumps = [dump for f in readable for dump in f.dumps]
    analysis = summarise_parsed_dumps(dumps, options)
    for f in readable:
        if f.format == "thread-dump-json":
            virtual = virtual_thread_summary(f.dumps[0], deadlocks=False)
            analysis = merge_analyses(analysis, virtual)
    if len(readable) > 1:
        analysis = Analysis(
            headline=f"{plural(len(readable), 'file')} · {analysis.headline}",
            findings=analysis.findings,
            notes=analysis.notes,
        )
    return Analysis(
        headline=analysis.headline,
        findings=analysis.findings,
        notes=(*skipped, *file_notes, *analysis.notes),
    )
