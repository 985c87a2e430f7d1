"""Thread dumps: parse `Thread.print -l` output and summarise one or several dumps for on-call.

`model` holds the values, `parse` (with `thread_lines`) reads the text, `lock_graph` finds
who blocks whom and the deadlocks, `analysis` turns dumps into findings.
"""

from bot.jvm.threaddump.analysis import summarise_thread_dumps
from bot.jvm.threaddump.lock_graph import deadlocks_in_lock_graph
from bot.jvm.threaddump.model import (
    Deadlock,
    DeadlockLink,
    JavaThread,
    Lock,
    LockWait,
    ThreadDump,
    WaitKind,
)
from bot.jvm.threaddump.parse import parse_thread_dump

__all__ = [
    "Deadlock",
    "DeadlockLink",
    "JavaThread",
    "Lock",
    "LockWait",
    "ThreadDump",
    "WaitKind",
    "deadlocks_in_lock_graph",
    "parse_thread_dump",
    "summarise_thread_dumps",
]
