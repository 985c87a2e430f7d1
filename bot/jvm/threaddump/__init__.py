"""Thread dumps: read the ones people already have, parse `Thread.print -l` output and the
JDK's JSON dump, and summarise one or several dumps (and the virtual threads) for on-call.

`reader` tells formats apart and reads files in bounded memory; `parse` (with `thread_lines`)
reads Thread.print text, `actuator` Spring Boot's /threaddump, `jdk_json` Thread.dump_to_file;
`lock_graph` finds who blocks whom; `analysis`, `virtual_threads` and `file_summary` turn
dumps into findings.
"""

from bot.jvm.threaddump.analysis import summarise_parsed_dumps, summarise_thread_dumps
from bot.jvm.threaddump.file_summary import summarise_dump_file, summarise_dump_files
from bot.jvm.threaddump.lock_graph import deadlocks_in_lock_graph
from bot.jvm.threaddump.model import (
    Deadlock,
    DeadlockLink,
    DumpFile,
    JavaThread,
    Lock,
    LockWait,
    ThreadDump,
    WaitKind,
)
from bot.jvm.threaddump.parse import parse_thread_dump, parse_thread_dumps, split_thread_dumps
from bot.jvm.threaddump.reader import (
    DEFAULT_MAX_BYTES,
    read_dump_file,
    read_dump_stream,
    read_dumps,
)
from bot.jvm.threaddump.virtual_threads import (
    carriers_in_thread_print,
    merge_analyses,
    summarise_virtual_threads,
    virtual_thread_summary,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Deadlock",
    "DeadlockLink",
    "DumpFile",
    "JavaThread",
    "Lock",
    "LockWait",
    "ThreadDump",
    "WaitKind",
    "carriers_in_thread_print",
    "deadlocks_in_lock_graph",
    "merge_analyses",
    "parse_thread_dump",
    "parse_thread_dumps",
    "read_dump_file",
    "read_dump_stream",
    "read_dumps",
    "split_thread_dumps",
    "summarise_dump_file",
    "summarise_dump_files",
    "summarise_parsed_dumps",
    "summarise_thread_dumps",
    "summarise_virtual_threads",
    "virtual_thread_summary",
]
