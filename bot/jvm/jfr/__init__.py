"""A JDK Flight Recorder file reader in pure Python, so no JDK is needed to analyse a profile.

`read_recording(path)` gives a `Recording`: counts per event type, typed views of the events
a profile needs (samples, allocations, lock waits, GC, CPU load) and any event type decoded
generically. Bad input never raises; it gives `Recording.notes`.
"""

from bot.jvm.jfr.events import (
    AllocationSample,
    CPULoad,
    ExecutionSample,
    Frame,
    GarbageCollection,
    GCPhasePause,
    JavaThread,
    MonitorEnter,
    NativeMethodSample,
    StackTrace,
    ThreadPark,
    TlabAllocation,
)
from bot.jvm.jfr.recording import ChunkInfo, Event, Recording, read_recording

__all__ = [
    "AllocationSample",
    "CPULoad",
    "ChunkInfo",
    "Event",
    "ExecutionSample",
    "Frame",
    "GCPhasePause",
    "GarbageCollection",
    "JavaThread",
    "MonitorEnter",
    "NativeMethodSample",
    "Recording",
    "StackTrace",
    "ThreadPark",
    "TlabAllocation",
    "read_recording",
]
