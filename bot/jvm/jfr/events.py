"""Typed views of the events a profile needs, with stack traces resolved to frames.

Each view is built from the generic decoding (fields found by name in the chunk's metadata,
since field order differs between JDK versions). Stacks, threads and class names are built
once per pool key and interned across chunks, so a long recording shares its frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from bot.jvm.histogram import PRIMITIVE_DESCRIPTORS, readable_class_name
from bot.jvm.jfr.constants import ChunkConstants
from bot.jvm.jfr.metadata import ClassDescriptor, FieldDescriptor

# What a frame shows for a class or method its constant pools do not hold.
UNKNOWN = "?"


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
            name = PRIMITIVE_DESCRIPTORS.get(inner[i], inner[i])
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
Accessor = Callable[[tuple[object, ...]], _V]
# Given a chunk's views and an event class, a function from raw event values to the view.
ViewBuilder = Callable[["ChunkViews", ClassDescriptor], Callable[[tuple[object, ...]], View]]


class ChunkViews:
    """Accessors for one chunk's event fields, memoising stacks, threads and classes by key.

    An accessor is bound to a field's position once per event class, so building a view
    costs a few index lookups. `interned` outlives the chunk: equal stacks and threads of
    later chunks become the same objects, so memory grows with distinct stacks, not samples.
    """

    def __init__(self, constants: ChunkConstants, interned: dict[object, object]) -> None:
        self.constants = constants
        self._interned = interned
        self._memo: dict[tuple[int, int], Any] = {}
        # Stacks with frames whose method is missing from the pools (a cut or corrupt file).
        self.incomplete_stacks = 0

    def _field(self, cls: ClassDescriptor, name: str) -> tuple[int, FieldDescriptor] | None:
        index = cls.field_index.get(name)
        return None if index is None else (index, cls.fields[index])

    def value(self, cls: ClassDescriptor, name: str) -> Accessor[Any]:
        """Field `name` resolved to Python values (None if this JDK's event lacks it)."""
        found = self._field(cls, name)
        if found is None:
            return _none
        index, field = found
        resolve = self.constants.field_value
        return lambda raw: resolve(field, raw[index])

    def raw(self, cls: ClassDescriptor, name: str) -> Accessor[object]:
        found = self._field(cls, name)
        if found is None:
            return _none
        index = found[0]
        return lambda raw: raw[index]

    def number(self, cls: ClassDescriptor, name: str) -> Accessor[int]:
        """An integer field in its unit, timestamps and timespans in ns; 0 if absent."""
        found = self._field(cls, name)
        if found is None:
            return _zero
        index, field = found
        if field.timespan_unit is None and field.timestamp_unit is None:
            return lambda raw: _int_or_zero(raw[index])
        nanos = self.constants.nanos
        return lambda raw: nanos(field, _int_or_zero(raw[index]))

    def fraction(self, cls: ClassDescriptor, name: str) -> Accessor[float]:
        found = self._field(cls, name)
        if found is None:
            return lambda raw: 0.0
        index = found[0]
        return lambda raw: float(v) if isinstance(v := raw[index], int | float) else 0.0

    def text(self, cls: ClassDescriptor, name: str) -> Accessor[str | None]:
        return self._memoised(cls, name, lambda v: v if isinstance(v, str) else None)

    def stack(self, cls: ClassDescriptor) -> Accessor[StackTrace | None]:
        def build(resolved: Any) -> StackTrace | None:
            stack = _stack_trace(resolved)
            if stack is not None and any(f.method == UNKNOWN for f in stack.frames):
                self.incomplete_stacks += 1
            return stack

        return self._memoised(cls, "stackTrace", build)

    def thread(
        self, cls: ClassDescriptor, name: str = "eventThread"
    ) -> Accessor[JavaThread | None]:
        return self._memoised(cls, name, _java_thread)

    def class_name(self, cls: ClassDescriptor, name: str) -> Accessor[str | None]:
        return self._memoised(cls, name, _class_name)

    def _memoised(
        self, cls: ClassDescriptor, name: str, build: Callable[[Any], _V | None]
    ) -> Accessor[_V | None]:
        """Field `name` built into a view, once per pool key when it refers to a pool."""
        found = self._field(cls, name)
        if found is None:
            return _none
        index, field = found
        resolve = self.constants.field_value
        if not field.constant_pool or field.array:
            return lambda raw: build(resolve(field, raw[index]))
        memo = self._memo
        interned = self._interned
        type_id = field.type_id

        def access(raw: tuple[object, ...]) -> _V | None:
            key = raw[index]
            memo_key = (type_id, key if isinstance(key, int) else -1)
            if memo_key in memo:
                return cast("_V | None", memo[memo_key])
            view = build(resolve(field, key))
            if view is not None:
                view = cast("_V", interned.setdefault(view, view))
            memo[memo_key] = view
            return view

        return access


def _none(raw: tuple[object, ...]) -> None:
    return None


def _zero(raw: tuple[object, ...]) -> int:
    return 0


def _int_or_zero(value: object) -> int:
    return value if isinstance(value, int) else 0


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
        return Frame(UNKNOWN, UNKNOWN, "", -1, -1, str(resolved.get("type") or ""))
    line = resolved.get("lineNumber")
    return Frame(
        class_name=_class_name(method.get("type")) or UNKNOWN,
        method=str(method.get("name") or UNKNOWN),
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


def _execution_sample(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, thread = v.number(cls, "startTime"), v.thread(cls, "sampledThread")
    stack, state = v.stack(cls), v.text(cls, "state")
    kind = NativeMethodSample if cls.name == "jdk.NativeMethodSample" else ExecutionSample
    return lambda raw: kind(start(raw), thread(raw), stack(raw), state(raw))


def _allocation_sample(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, thread, stack = v.number(cls, "startTime"), v.thread(cls), v.stack(cls)
    object_class, weight = v.class_name(cls, "objectClass"), v.number(cls, "weight")
    return lambda raw: AllocationSample(
        start(raw), thread(raw), stack(raw), object_class(raw), weight(raw)
    )


def _tlab_allocation(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, thread, stack = v.number(cls, "startTime"), v.thread(cls), v.stack(cls)
    object_class, size = v.class_name(cls, "objectClass"), v.number(cls, "allocationSize")
    tlab = v.raw(cls, "tlabSize")
    return lambda raw: TlabAllocation(
        start(raw),
        thread(raw),
        stack(raw),
        object_class(raw),
        size(raw),
        t if isinstance(t := tlab(raw), int) else None,
    )


def _monitor_enter(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, duration = v.number(cls, "startTime"), v.number(cls, "duration")
    thread, stack = v.thread(cls), v.stack(cls)
    monitor, owner = v.class_name(cls, "monitorClass"), v.thread(cls, "previousOwner")
    address = v.number(cls, "address")
    return lambda raw: MonitorEnter(
        start(raw),
        duration(raw),
        thread(raw),
        stack(raw),
        monitor(raw),
        owner(raw),
        address(raw),
    )


# ThreadPark's `timeout` is Long.MIN_VALUE when the thread parked without one
# (`LockSupport.park`); `jfr print` shows it as "N/A".
_NO_TIMEOUT = {-(2**63), 2**63 - 1}


def _thread_park(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, duration = v.number(cls, "startTime"), v.number(cls, "duration")
    thread, stack = v.thread(cls), v.stack(cls)
    parked, address = v.class_name(cls, "parkedClass"), v.number(cls, "address")
    raw_timeout, timeout = v.raw(cls, "timeout"), v.number(cls, "timeout")
    return lambda raw: ThreadPark(
        start(raw),
        duration(raw),
        thread(raw),
        stack(raw),
        parked(raw),
        None if raw_timeout(raw) in _NO_TIMEOUT else timeout(raw),
        address(raw),
    )


def _garbage_collection(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, duration, gc_id = (v.number(cls, n) for n in ("startTime", "duration", "gcId"))
    name, cause = v.text(cls, "name"), v.text(cls, "cause")
    total, longest = v.number(cls, "sumOfPauses"), v.number(cls, "longestPause")
    return lambda raw: GarbageCollection(
        start(raw), duration(raw), gc_id(raw), name(raw), cause(raw), total(raw), longest(raw)
    )


def _gc_phase_pause(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start, duration, gc_id = (v.number(cls, n) for n in ("startTime", "duration", "gcId"))
    name = v.text(cls, "name")
    return lambda raw: GCPhasePause(start(raw), duration(raw), gc_id(raw), name(raw))


def _cpu_load(v: ChunkViews, cls: ClassDescriptor) -> Accessor[View]:
    start = v.number(cls, "startTime")
    user, system, machine = (v.fraction(cls, n) for n in ("jvmUser", "jvmSystem", "machineTotal"))
    return lambda raw: CPULoad(start(raw), user(raw), system(raw), machine(raw))


VIEW_BUILDERS: Mapping[str, ViewBuilder] = {
    "jdk.ExecutionSample": _execution_sample,
    "jdk.NativeMethodSample": _execution_sample,
    "jdk.ObjectAllocationSample": _allocation_sample,
    "jdk.ObjectAllocationInNewTLAB": _tlab_allocation,
    "jdk.ObjectAllocationOutsideTLAB": _tlab_allocation,
    "jdk.JavaMonitorEnter": _monitor_enter,
    "jdk.ThreadPark": _thread_park,
    "jdk.GarbageCollection": _garbage_collection,
    "jdk.GCPhasePause": _gc_phase_pause,
    "jdk.CPULoad": _cpu_load,
}
