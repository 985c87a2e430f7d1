"""The metadata event: every type a chunk uses, its fields in wire order, and annotations.

Events and constant pools carry no field names or types; this element tree (a string table,
then `root > metadata > class > field|annotation|setting`, and `root > region`) is what makes
them decodable. Read as `jdk/jfr/internal/MetadataReader.java` reads it; written by HotSpot's
`jfr/recorder/checkpoint/types/jfrTypeSet.cpp` and the JDK's `MetadataWriter.java`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from bot.jvm.jfr.encoding import read_int, read_long, read_string
from bot.jvm.jfr.errors import FormatError

METADATA_TYPE_ID = 0
CHECKPOINT_TYPE_ID = 1
EVENT_SUPER_TYPE = "jdk.jfr.Event"
_TIMESPAN = "jdk.jfr.Timespan"
_TIMESTAMP = "jdk.jfr.Timestamp"


@dataclass(frozen=True)
class Annotation:
    """An annotation on a class or field, e.g. `jdk.jfr.Timespan` with `value=TICKS`."""

    type_name: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldDescriptor:
    """One field: its type's id, whether it is an array and whether it refers to a pool."""

    name: str
    type_id: int
    array: bool
    constant_pool: bool
    annotations: tuple[Annotation, ...] = ()

    @cached_property
    def timespan_unit(self) -> str | None:
        """`TICKS`, `NANOSECONDS`, … if the field is a duration (`jdk.jfr.Timespan`)."""
        return self._annotation_value(_TIMESPAN)

    @cached_property
    def timestamp_unit(self) -> str | None:
        """`TICKS` or `MILLISECONDS_SINCE_EPOCH` if the field is a point in time."""
        return self._annotation_value(_TIMESTAMP)

    def _annotation_value(self, type_name: str) -> str | None:
        for annotation in self.annotations:
            if annotation.type_name == type_name:
                return annotation.values.get("value", "")
        return None


@dataclass(frozen=True)
class ClassDescriptor:
    """A type: an event, a constant-pool struct such as `jdk.types.StackTrace`, or a primitive."""

    id: int
    name: str
    super_type: str | None
    simple_type: bool
    fields: tuple[FieldDescriptor, ...]
    annotations: tuple[Annotation, ...] = ()

    @property
    def is_event(self) -> bool:
        return self.super_type == EVENT_SUPER_TYPE

    @cached_property
    def field_index(self) -> Mapping[str, int]:
        return {f.name: i for i, f in enumerate(self.fields)}


@dataclass(frozen=True)
class Metadata:
    """All classes of one metadata event, by id and by name."""

    metadata_id: int
    classes: Mapping[int, ClassDescriptor]
    gmt_offset_ms: int = 0

    @cached_property
    def by_name(self) -> Mapping[str, ClassDescriptor]:
        return {c.name: c for c in self.classes.values()}


@dataclass(frozen=True)
class _Element:
    name: str
    attributes: Mapping[str, str]
    children: tuple[_Element, ...]

    def named(self, name: str) -> list[_Element]:
        return [c for c in self.children if c.name == name]


# A metadata event holds a few thousand elements at most; a deeper or wider tree is corrupt.
_MAX_DEPTH = 32


def _read_element(buf: bytes, pos: int, strings: list[str], depth: int = 0) -> tuple[_Element, int]:
    if depth > _MAX_DEPTH:
        raise FormatError("its metadata nests deeper than any JVM writes")
    index, pos = read_int(buf, pos)
    name = _string_at(strings, index)
    count, pos = read_int(buf, pos)
    attributes: dict[str, str] = {}
    for _ in range(count):
        key, pos = read_int(buf, pos)
        value, pos = read_int(buf, pos)
        attributes[_string_at(strings, key)] = _string_at(strings, value)
    count, pos = read_int(buf, pos)
    if count < 0 or count > len(buf) - pos:
        raise FormatError(f"a metadata element claims {count} children")
    children = []
    for _ in range(count):
        child, pos = _read_element(buf, pos, strings, depth + 1)
        children.append(child)
    return _Element(name, attributes, tuple(children)), pos


def _string_at(strings: list[str], index: int) -> str:
    if not 0 <= index < len(strings):
        raise FormatError(f"its metadata refers to string {index} of {len(strings)}")
    return strings[index]


def _annotations(element: _Element, names: Mapping[int, str]) -> tuple[Annotation, ...]:
    found = []
    for a in element.named("annotation"):
        values = {k: v for k, v in a.attributes.items() if k != "class"}
        found.append(Annotation(names.get(_int(a.attributes.get("class")), "?"), values))
    return tuple(found)


def _int(text: str | None) -> int:
    try:
        return int(text) if text is not None else -1
    except ValueError:
        raise FormatError(f"its metadata has {text!r} where a number belongs") from None


def read_metadata(buf: bytes, pos: int) -> Metadata:
    """The metadata event whose size field is at `pos`."""
    _, pos = read_int(buf, pos)  # size: the caller bounded the event already
    type_id, pos = read_long(buf, pos)
    if type_id != METADATA_TYPE_ID:
        raise FormatError(f"the metadata offset points at an event of type {type_id}")
    _, pos = read_long(buf, pos)  # start time
    _, pos = read_long(buf, pos)  # duration
    metadata_id, pos = read_long(buf, pos)
    count, pos = read_int(buf, pos)
    if count < 0 or count > len(buf) - pos:
        raise FormatError(f"its metadata claims {count} strings")
    strings: list[str] = []
    for _ in range(count):
        text, pos = read_string(buf, pos)
        if not isinstance(text, str):
            text = ""
        strings.append(text)
    root, _ = _read_element(buf, pos, strings)
    metadata_elements = root.named("metadata")
    if not metadata_elements:
        raise FormatError("its metadata event has no type descriptions")
    class_elements = metadata_elements[0].named("class")
    names = {_int(c.attributes.get("id")): c.attributes.get("name", "?") for c in class_elements}
    classes: dict[int, ClassDescriptor] = {}
    for element in class_elements:
        fields = tuple(
            FieldDescriptor(
                name=f.attributes.get("name", "?"),
                type_id=_int(f.attributes.get("class")),
                array=_int(f.attributes.get("dimension", "0")) > 0,
                constant_pool=f.attributes.get("constantPool") == "true",
                annotations=_annotations(f, names),
            )
            for f in element.named("field")
        )
        class_id = _int(element.attributes.get("id"))
        classes[class_id] = ClassDescriptor(
            id=class_id,
            name=element.attributes.get("name", "?"),
            super_type=element.attributes.get("superType"),
            simple_type=element.attributes.get("simpleType") == "true",
            fields=fields,
            annotations=_annotations(element, names),
        )
    regions = root.named("region")
    gmt_offset = _int(regions[0].attributes.get("gmtOffset", "0")) if regions else 0
    return Metadata(metadata_id, classes, gmt_offset)
