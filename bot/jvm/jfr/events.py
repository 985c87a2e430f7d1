"""Typed views of the events a profile needs, with stack traces resolved to frames.

Each view is built from the generic decoding (fields found by name in the chunk's metadata,
since field order differs between JDK versions). Stacks, threads and class names are built
once per pool key and interned across chunks, so a long recording shares its frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from bot.jvm.histogram import readable_class_name
from bot.jvm.jfr.constants import ChunkConstants
from bot.jvm.jfr.metadata import ClassDescriptor

_PRIMITIVE_DESCRIPTORS = {
    "B": "byte",
    "C": "char",
    "D": "double",
    "F": "float",
    "I": "int",
    "J": "long",
    "S": "short",
    "Z": "boolean",
    "V": "void",
}


def java_class_name(internal: str) -> str:
    """`java/lang/String` -> `java.lang.String`, `[B` -> `byte[]`, as JFR's tools print them."""
    return readable_class_name(internal.replace("/", "."))


def parameter_types(descriptor: str) -> tuple[str, ...]:
    """`(Ljava/io/InputStream;I)V` -> `("InputStream", "int")`: simple names, as `jfr` shows."""
    inner = descriptor[1 : descriptor.find(")")] if descriptor.startswith("(") else ""
    params: list[str] = []
    i = 0
    while i < len(inner):
        dims = 0
        while i < len(inner) and inner[i] == "[":
            dims += 1
            i += 1
        if i >= len(inner):
            break
        if inner[i] == "L":
            end = inner.find(";", i)
            end = len(inner) if end < 0 else end
            name = inner[i + 1 : end].rsplit("/", 1)[-1]
            i = end + 1
        else:
            name = _PRIMITIVE_DESCRIPTORS.get(inner[i], inner[i])
            i += 1
        params.append(name + "[]" * dims)
    return tuple(params)


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame; `kind` is JFR's frame type: Interpreted, JIT compiled, Inlined, Native."""

    class_name: str
    method: str
    descriptor: str
    line: int
    bytecode_index: int
    kind: str
    hidden: bool = False

    @property
    def name(self) -> str:
        """`java.util.Random.next`: class and method, no parameters."""
        return f"{self.class_name}.{self.method}"

    @property
    def signature(self) -> str:
        """`java.util.Random.next(int)`, the form `jfr view hot-methods` prints."""
        return f"{self.name}({', '.join(parameter_types(self.descriptor))})"


@dataclass(frozen=True, slots=True)
class StackTrace:
    """Frames from the top (the running method) down; `truncated` if the JVM cut it at depth."""

    frames: tuple[Frame, ...]
    truncated: bool = False

    @property
    def top(self) -> Frame | None:
        return self.frames[0] if self.frames else None


@dataclass(frozen=True, slots=True)
class JavaThread:
    name: str
    os_name: str | None
    java_id: int | None
    os_id: int | None
    virtual: bool = False


@dataclass(frozen=True, slots=True)
class ExecutionSample:
    """jdk.ExecutionSample: a thread caught running Java code."""

    start_ns: int
    thread: JavaThread | None
    stack: StackTrace | None
    state: str | None


@dataclass(frozen=True, slots=True)
class NativeMethodSample(ExecutionSample):
    """jdk.NativeMethodSample: a thread caught in native code (the same fields)."""


@dataclass(frozen=True, slots=True)
class AllocationSample:
    """jdk.ObjectAllocationSample (JDK 16+): `weight` bytes allocated since the last sample."""

    start_ns: int
    thread: JavaThread | None
    stack: StackTrace | None
    object_class: str | None
    weight: int


@dataclass(frozen=True, slots=True)
class TlabAllocation:
    """jdk.ObjectAllocationInNewTLAB (`tlab_size` set) or jdk.ObjectAllocationOutsideTLAB."""

    start_ns: int
    thread: JavaThread | None
    stack: StackTrace | None
    object_class: str | None
    allocation_size: int
    tlab_size: int | None


@dataclass(frozen=True, slots=True)
class MonitorEnter:
    """jdk.JavaMonitorEnter: a thread blocked `duration_ns` entering a `synchronized` monitor."""

    start_ns: int
    duration_ns: int
    thread: JavaThread | None
    stack: StackTrace | None
    monitor_class: str | None
    previous_owner: JavaThread | None
    address: int


@dataclass(frozen=True, slots=True)
class ThreadPark:
    """jdk.ThreadPark: `LockSupport.park`; `parked_class` is the blocker's class (e.g. a lock's
    sync or a condition), `timeout_ns` None when it waited without one."""

    start_ns: int
    duration_ns: int
    thread: JavaThread | None
    stack: StackTrace | None
    parked_class: str | None
    timeout_ns: int | None
    address: int


@dataclass(frozen=True, slots=True)
class GarbageCollection:
    start_ns: int
    duration_ns: int
    gc_id: int
    name: str | None
    cause: str | None
    sum_of_pauses_ns: int
    longest_pause_ns: int


@dataclass(frozen=True, slots=True)
class GCPhasePause:
    start_ns: int
    duration_ns: int
    gc_id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class CPULoad:
    """jdk.CPULoad: fractions of the machine's CPU (0..1) over the last period."""

    start_ns: int
    jvm_user: float
    jvm_system: float
    machine_total: float


View = Any
_V = TypeVar("_V")
ViewBuilder = Callable[["ChunkViews", ClassDescriptor, tuple[object, ...]], View]


class ChunkViews:
    """Builds typed views for one chunk, memoising stacks, threads and class names by key.

    `interned` outlives the chunk: equal stacks and threads of later chunks are the same
    objects, so memory grows with distinct stacks, not with samples.
    """

    def __init__(self, constants: ChunkConstants, interned: dict[object, object]) -> None:
        self.constants = constants
        self._interned = interned
        self._memo: dict[tuple[str, int], Any] = {}

    def raw(self, cls: ClassDescriptor, values: tuple[object, ...], name: str) -> object:
        index = cls.field_index.get(name)
        return values[index] if index is not None and index < len(values) else None

    def value(self, cls: ClassDescriptor, values: tuple[object, ...], name: str) -> Any:
        """Field `name` resolved to Python values (None if this JDK's event lacks it)."""
        index = cls.field_index.get(name)
        if index is None or index >= len(values):
            return None
        return self.constants.field_value(cls.fields[index], values[index])

    def number(self, cls: ClassDescriptor, values: tuple[object, ...], name: str) -> int:
        found = self.value(cls, values, name)
        return found if isinstance(found, int) else 0

    def _memoised(
        self,
        kind: str,
        cls: ClassDescriptor,
        values: tuple[object, ...],
        name: str,
        build: Callable[[Any], _V | None],
    ) -> _V | None:
        key = self.raw(cls, values, name)
        if not isinstance(key, int):
            return None
        memo_key = (kind, key)
        if memo_key in self._memo:
            return cast("_V | None", self._memo[memo_key])
        resolved = self.value(cls, values, name)
        view = build(resolved) if resolved is not None else None
        if view is not None:
            view = cast("_V", self._interned.setdefault(view, view))
        self._memo[memo_key] = view
        return view

    def stack(self, cls: ClassDescriptor, values: tuple[object, ...]) -> StackTrace | None:
        return self._memoised("stack", cls, values, "stackTrace", _stack_trace)

    def thread(
        self, cls: ClassDescriptor, values: tuple[object, ...], name: str = "eventThread"
    ) -> JavaThread | None:
        return self._memoised("thread", cls, values, name, _java_thread)

    def class_name(self, cls: ClassDescriptor, values: tuple[object, ...], name: str) -> str | None:
        return self._memoised("class", cls, values, name, _class_name)

    def text(self, cls: ClassDescriptor, values: tuple[object, ...], name: str) -> str | None:
        found = self.value(cls, values, name)
        return found if isinstance(found, str) else None


def _class_name(resolved: Any) -> str | None:
    if isinstance(resolved, Mapping) and isinstance(resolved.get("name"), str):
        return java_class_name(resolved["name"])
    return None


def _java_thread(resolved: Any) -> JavaThread | None:
    if not isinstance(resolved, Mapping):
        return None
    java_name, os_name = resolved.get("javaName"), resolved.get("osName")
    return JavaThread(
        name=java_name or os_name or "?",
        os_name=os_name,
        java_id=resolved.get("javaThreadId"),
        os_id=resolved.get("osThreadId"),
        virtual=bool(resolved.get("virtual", False)),
    )


def _frame(resolved: Any) -> Frame | None:
    if not isinstance(resolved, Mapping):
        return None
    method = resolved.get("method")
    if not isinstance(method, Mapping):
        return Frame("?", "?", "", -1, -1, str(resolved.get("type") or ""))
    line = resolved.get("lineNumber")
    return Frame(
        class_name=_class_name(method.get("type")) or "?",
        method=str(method.get("name") or "?"),
        descriptor=str(method.get("descriptor") or ""),
        line=line if isinstance(line, int) else -1,
        bytecode_index=int(resolved.get("bytecodeIndex") or 0),
        kind=str(resolved.get("type") or ""),
        hidden=bool(method.get("hidden", False)),
    )


def _stack_trace(resolved: Any) -> StackTrace | None:
    if not isinstance(resolved, Mapping):
        return None
    frames = tuple(f for f in map(_frame, resolved.get("frames") or ()) if f is not None)
    return StackTrace(frames, bool(resolved.get("truncated", False)))


def _execution_sample(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    return ExecutionSample(
        v.number(cls, raw, "startTime"),
        v.thread(cls, raw, "sampledThread"),
        v.stack(cls, raw),
        v.text(cls, raw, "state"),
    )


def _native_method_sample(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    return NativeMethodSample(
        v.number(cls, raw, "startTime"),
        v.thread(cls, raw, "sampledThread"),
        v.stack(cls, raw),
        v.text(cls, raw, "state"),
    )


def _allocation_sample(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    return AllocationSample(
        v.number(cls, raw, "startTime"),
        v.thread(cls, raw),
        v.stack(cls, raw),
        v.class_name(cls, raw, "objectClass"),
        v.number(cls, raw, "weight"),
    )


def _tlab_allocation(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    tlab = v.value(cls, raw, "tlabSize")
    return TlabAllocation(
        v.number(cls, raw, "startTime"),
        v.thread(cls, raw),
        v.stack(cls, raw),
        v.class_name(cls, raw, "objectClass"),
        v.number(cls, raw, "allocationSize"),
        tlab if isinstance(tlab, int) else None,
    )


def _monitor_enter(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    return MonitorEnter(
        v.number(cls, raw, "startTime"),
        v.number(cls, raw, "duration"),
        v.thread(cls, raw),
        v.stack(cls, raw),
        v.class_name(cls, raw, "monitorClass"),
        v.thread(cls, raw, "previousOwner"),
        v.number(cls, raw, "address"),
    )


# ThreadPark's `timeout` is Long.MIN_VALUE when the thread parked without one
# (`LockSupport.park`), as `jfr print` shows it ("N/A").
_NO_TIMEOUT = {-(2**63), 2**63 - 1}


def _thread_park(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    timeout = v.raw(cls, raw, "timeout")
    return ThreadPark(
        v.number(cls, raw, "startTime"),
        v.number(cls, raw, "duration"),
        v.thread(cls, raw),
        v.stack(cls, raw),
        v.class_name(cls, raw, "parkedClass"),
        None
        if not isinstance(timeout, int) or timeout in _NO_TIMEOUT
        else v.number(cls, raw, "timeout"),
        v.number(cls, raw, "address"),
    )


def _garbage_collection(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    return GarbageCollection(
        v.number(cls, raw, "startTime"),
        v.number(cls, raw, "duration"),
        v.number(cls, raw, "gcId"),
        v.text(cls, raw, "name"),
        v.text(cls, raw, "cause"),
        v.number(cls, raw, "sumOfPauses"),
        v.number(cls, raw, "longestPause"),
    )


def _gc_phase_pause(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    return GCPhasePause(
        v.number(cls, raw, "startTime"),
        v.number(cls, raw, "duration"),
        v.number(cls, raw, "gcId"),
        v.text(cls, raw, "name"),
    )


def _cpu_load(v: ChunkViews, cls: ClassDescriptor, raw: tuple[object, ...]) -> View:
    def fraction(name: str) -> float:
        found = v.value(cls, raw, name)
        return float(found) if isinstance(found, int | float) else 0.0

    return CPULoad(
        v.number(cls, raw, "startTime"),
        fraction("jvmUser"),
        fraction("jvmSystem"),
        fraction("machineTotal"),
    )


VIEW_BUILDERS: Mapping[str, ViewBuilder] = {
    "jdk.ExecutionSample": _execution_sample,
    "jdk.NativeMethodSample": _native_method_sample,
    "jdk.ObjectAllocationSample": _allocation_sample,
    "jdk.ObjectAllocationInNewTLAB": _tlab_allocation,
    "jdk.ObjectAllocationOutsideTLAB": _tlab_allocation,
    "jdk.JavaMonitorEnter": _monitor_enter,
    "jdk.ThreadPark": _thread_park,
    "jdk.GarbageCollection": _garbage_collection,
    "jdk.GCPhasePause": _gc_phase_pause,
    "jdk.CPULoad": _cpu_load,
}
