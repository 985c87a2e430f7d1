"""Decoders built from a chunk's metadata: one function per type, reading its raw value.

A struct decodes to a tuple of its fields in metadata order; a constant-pool field stays the
pool key (an int) and an array a tuple, so decoding allocates little and resolution (see
`constants.py`) happens only for what is used. Mirrors what `ParserFactory.java` builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.jvm.jfr.encoding import (
    read_boolean,
    read_byte,
    read_char,
    read_double,
    read_float,
    read_int,
    read_long,
    read_short,
    read_string,
)
from bot.jvm.jfr.errors import FormatError
from bot.jvm.jfr.metadata import FieldDescriptor, Metadata

Decoder = Callable[[bytes, int], tuple[object, int]]

PRIMITIVE_DECODERS: Mapping[str, Decoder] = {
    "boolean": read_boolean,
    "byte": read_byte,
    "char": read_char,
    "short": read_short,
    "int": read_int,
    "long": read_long,
    "float": read_float,
    "double": read_double,
    "java.lang.String": read_string,
}


def _array_of(element: Decoder) -> Decoder:
    def decode(buf: bytes, pos: int) -> tuple[object, int]:
        count, pos = read_int(buf, pos)
        # Every element takes at least one byte: a larger count is corrupt, not a big array.
        if count < 0 or count > len(buf) - pos:
            raise FormatError(f"an array claims {count} elements")
        items: list[object] = []
        append = items.append
        for _ in range(count):
            item, pos = element(buf, pos)
            append(item)
        return tuple(items), pos

    return decode


def _struct_of(fields: list[Decoder]) -> Decoder:
    def decode(buf: bytes, pos: int) -> tuple[object, int]:
        values: list[object] = []
        append = values.append
        for field in fields:
            value, pos = field(buf, pos)
            append(value)
        return tuple(values), pos

    return decode


def _undefined(type_id: int) -> Decoder:
    def decode(buf: bytes, pos: int) -> tuple[object, int]:
        raise FormatError(f"a field refers to type {type_id}, which the metadata does not define")

    return decode


def build_decoders(metadata: Metadata) -> dict[int, Decoder]:
    """A decoder for every class of `metadata`, by class id."""
    decoders: dict[int, Decoder] = {}
    field_lists: dict[int, list[Decoder]] = {}
    for cls in metadata.classes.values():
        primitive = PRIMITIVE_DECODERS.get(cls.name)
        if primitive is not None and not cls.fields:
            decoders[cls.id] = primitive
        else:
            field_lists[cls.id] = []
            decoders[cls.id] = _struct_of(field_lists[cls.id])
    # Every decoder exists before any field list is filled, so types that nest each other
    # (or themselves) find theirs.
    for class_id, fields in field_lists.items():
        fields.extend(_field_decoder(f, decoders) for f in metadata.classes[class_id].fields)
    return decoders


def _field_decoder(field: FieldDescriptor, decoders: Mapping[int, Decoder]) -> Decoder:
    if field.constant_pool:
        element: Decoder = read_long
    else:
        element = decoders.get(field.type_id) or _undefined(field.type_id)
    return _array_of(element) if field.array else element
