"""JSON <-> protobuf conversion with the documented RIS JSON shapes.

The shapes differ from the default protobuf JSON mapping. Every rule is read
from descriptors, so the converter works on any message of the contract.

Output (``message_to_json``):

- Keys are proto field names. A field whose ``json_name`` is set in the .proto
  file uses that name instead.
- Enums are value names without the type prefix, lowercased
  (``TASK_STATUS_COMPLETED`` is ``"completed"``). A singular enum field at
  its zero value is omitted. A number the enum does not define is written as
  that number.
- 64-bit integers are JSON numbers. Timestamps are RFC 3339 strings ending in
  "Z". Bytes are base64. Non-finite doubles are "NaN", "Infinity" and
  "-Infinity". Other google.protobuf types use the standard protobuf JSON form.
- Scalar, repeated and map fields are always present. Message fields, proto3
  ``optional`` fields and members of a oneof appear only when set.
- When a oneof has the ``(ris.v1.inline_json)`` option and its set member is a
  message, the member's fields are merged into the parent object at the
  oneof's place. A parent field wins a key clash.

Input (``parse_json_into``, ``parse_json_field``, ``parse_text_value``):

- A key may be the proto name, the explicit ``json_name`` or the
  lowerCamelCase name. Two keys for one field, unknown keys and values of the
  wrong JSON type are errors. ``null`` leaves a field unset, except inside
  arrays and maps, where it is an error.
- Integers are JSON numbers (integral values) or decimal strings, checked
  against the field's range. Floats are numbers, decimal strings, "NaN",
  "Infinity" or "-Infinity".
- Enums are the short name or the full name, in any case, or a number. A
  number outside the enum's values is passed through, because the backend
  checks ranges.
- For an inline oneof whose option names a ``discriminator`` enum field, keys
  that are not parent fields go into the member named by the discriminator's
  short value name (type "http_request" selects ``http_request``). A set
  discriminator with no payload keys selects an empty member. The nested form
  (``"http_request": {...}``) is accepted too, but not together with inline
  keys. A key that names both a member and a field of the selected payload
  (TaskSpec's "command") is the payload field, unless its value is a JSON
  object that the payload field cannot take. While the discriminator is
  unset, a key that names both a member and a field of any payload is that
  field unless its value is a JSON object, so the error names the
  discriminator as required.
- A string that contains a lone surrogate (a ``\\ud800`` escape without its
  pair) is an error, because protobuf strings must be valid UTF-8.

Every error is a ``JsonMappingError`` whose text names the field. An error
about a value of the wrong JSON type names that type, never the value.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import struct
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    OneofDescriptor,
)
from google.protobuf.message import Message

from ris_edge.contract import (
    enum_short_name,
    explicit_json_name,
    inline_json_option,
    is_map,
    lower_camel_name,
    real_oneof,
)

_F = FieldDescriptor
_INT32_RANGE = (-(2**31), 2**31 - 1)
_UINT32_RANGE = (0, 2**32 - 1)
_INT64_RANGE = (-(2**63), 2**63 - 1)
_UINT64_RANGE = (0, 2**64 - 1)
_INTEGER_RANGES = {
    _F.TYPE_INT32: _INT32_RANGE,
    _F.TYPE_SINT32: _INT32_RANGE,
    _F.TYPE_SFIXED32: _INT32_RANGE,
    _F.TYPE_UINT32: _UINT32_RANGE,
    _F.TYPE_FIXED32: _UINT32_RANGE,
    _F.TYPE_INT64: _INT64_RANGE,
    _F.TYPE_SINT64: _INT64_RANGE,
    _F.TYPE_SFIXED64: _INT64_RANGE,
    _F.TYPE_UINT64: _UINT64_RANGE,
    _F.TYPE_FIXED64: _UINT64_RANGE,
}
_FLOAT_TYPES = frozenset({_F.TYPE_DOUBLE, _F.TYPE_FLOAT})
_FLOAT32_MAX = 3.4028234663852886e38
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
# More digits than any 64-bit integer has, far below Python's int() limit.
_MAX_INTEGER_DIGITS = 40
_DECIMAL_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Python's json module turns a \ud800 escape without its pair into a lone
# surrogate, which protobuf cannot encode as UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_TIMESTAMP = "google.protobuf.Timestamp"
_WELL_KNOWN_PACKAGE = "google.protobuf."


class JsonMappingError(ValueError):
    """A JSON or text value that does not fit the message; the text names the
    field or parameter."""


# Output --------------------------------------------------------------------


def message_to_json(message: Message) -> dict[str, Any]:
    """Convert a message to a JSON object by the output rules of this module."""
    result: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        oneof = real_oneof(field)
        if oneof is not None:
            _member_to_json(message, field, oneof, result)
        elif not _is_omitted(message, field):
            value = getattr(message, field.name)
            result[output_key(field)] = _field_to_json(field, value)
    return result


@functools.cache
def output_key(field: FieldDescriptor) -> str:
    """Return the JSON key of a field on output."""
    return explicit_json_name(field) or field.name


def _is_omitted(message: Message, field: FieldDescriptor) -> bool:
    if field.is_repeated:
        return False
    if field.has_presence:
        return not message.HasField(field.name)
    return field.type == _F.TYPE_ENUM and getattr(message, field.name) == 0


def _member_to_json(
    message: Message,
    field: FieldDescriptor,
    oneof: OneofDescriptor,
    result: dict[str, Any],
) -> None:
    if message.WhichOneof(oneof.name) != field.name:
        return
    value = getattr(message, field.name)
    if inline_json_option(oneof) is not None and _is_plain_message(field):
        reserved = _parent_keys(message.DESCRIPTOR)
        for key, item in message_to_json(value).items():
            if key not in reserved:
                result[key] = item
        return
    result[output_key(field)] = _field_to_json(field, value)


@functools.cache
def _parent_keys(descriptor: Descriptor) -> frozenset[str]:
    """Return the output keys of the fields that are not inline oneof members."""
    keys = set()
    for field in descriptor.fields:
        oneof = real_oneof(field)
        if oneof is None or inline_json_option(oneof) is None:
            keys.add(output_key(field))
    return frozenset(keys)


def _is_plain_message(field: FieldDescriptor) -> bool:
    return (
        field.type == _F.TYPE_MESSAGE
        and not field.message_type.full_name.startswith(_WELL_KNOWN_PACKAGE)
    )


def _field_to_json(field: FieldDescriptor, value: Any) -> Any:
    if is_map(field):
        value_field = field.message_type.fields_by_name["value"]
        return {
            _map_key_to_json(k): _single_to_json(value_field, v)
            for k, v in value.items()
        }
    if field.is_repeated:
        return [_single_to_json(field, item) for item in value]
    return _single_to_json(field, value)


def _map_key_to_json(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _single_to_json(field: FieldDescriptor, value: Any) -> Any:
    kind = field.type
    if kind == _F.TYPE_MESSAGE:
        return _message_value_to_json(value)
    if kind == _F.TYPE_ENUM:
        return _enum_to_json(field.enum_type, value)
    if kind in _FLOAT_TYPES:
        return _float_to_json(value, single=kind == _F.TYPE_FLOAT)
    if kind == _F.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value


def _message_value_to_json(message: Message) -> Any:
    full_name = message.DESCRIPTOR.full_name
    if full_name == _TIMESTAMP:
        return message.ToJsonString()
    if full_name.startswith(_WELL_KNOWN_PACKAGE):
        return json_format.MessageToDict(message, preserving_proto_field_name=True)
    return message_to_json(message)


def _enum_to_json(enum: EnumDescriptor, number: int) -> str | int:
    value = enum.values_by_number.get(number)
    if value is None:
        return number
    return enum_short_name(value)


def _float_to_json(value: float, single: bool) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if single:
        return _shortest_float32(value)
    return value


def _shortest_float32(value: float) -> float:
    """Return the shortest decimal that rounds to the same 32-bit float."""
    packed = struct.pack("<f", value)
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


# Input ---------------------------------------------------------------------


@functools.cache
def input_field_names(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """Return every accepted input key of a message's fields.

    Keys are lowerCamelCase names, explicit json_names and proto names. A proto
    name wins when another field's camelCase or json_name spells the same key.
    """
    names: dict[str, FieldDescriptor] = {}
    for field in descriptor.fields:
        names[lower_camel_name(field)] = field
    for field in descriptor.fields:
        json_name = explicit_json_name(field)
        if json_name:
            names[json_name] = field
    for field in descriptor.fields:
        names[field.name] = field
    return names


def parse_json_into(message: Message, value: Any, path: str = "") -> None:
    """Set the fields of ``message`` from a JSON object by the input rules.

    ``path`` is the dotted place of ``value`` in the request body, used in
    error messages; an empty path means the whole body. Raises
    JsonMappingError.
    """
    if not isinstance(value, dict):
        raise JsonMappingError(
            f"{_where(path)}: expected a JSON object, got {describe_json(value)}"
        )
    names = input_field_names(message.DESCRIPTOR)
    keys_by_field: dict[str, str] = {}
    extra: dict[str, Any] = {}
    member_keys: dict[str, tuple[FieldDescriptor, Any]] = {}
    for key, item in value.items():
        field = names.get(key)
        if field is None:
            extra[key] = item
        elif _is_inline_member(field):
            # Resolved after the loop, because the discriminator key may come later.
            member_keys[key] = (field, item)
        else:
            _parse_named_field(message, field, key, item, path, keys_by_field)
    for key, (field, item) in member_keys.items():
        if _is_inline_payload_key(message, key, item):
            extra[key] = item
        else:
            _parse_named_field(message, field, key, item, path, keys_by_field)
    _parse_inline_payloads(message, extra, path)


def _parse_named_field(
    message: Message,
    field: FieldDescriptor,
    key: str,
    item: Any,
    path: str,
    keys_by_field: dict[str, str],
) -> None:
    field_path = _join(path, key)
    _check_first_key(keys_by_field, field, key, field_path)
    _check_oneof_free(message, field, item, field_path)
    parse_json_field(message, field, item, field_path)


def _check_first_key(
    keys_by_field: dict[str, str], field: FieldDescriptor, key: str, path: str
) -> None:
    earlier = keys_by_field.setdefault(field.name, key)
    if earlier != key:
        raise JsonMappingError(
            f'{_where(path)}: "{earlier}" and "{key}" both set field "{field.name}"; '
            "send only one of them"
        )


def _check_oneof_free(
    message: Message, field: FieldDescriptor, item: Any, path: str
) -> None:
    oneof = real_oneof(field)
    if oneof is None or item is None:
        return
    current = message.WhichOneof(oneof.name)
    if current is not None and current != field.name:
        raise JsonMappingError(
            f'{_where(path)}: "{current}" is already set, and only one field of '
            f'"{oneof.name}" may be set'
        )


def parse_json_field(
    message: Message, field: FieldDescriptor, item: Any, path: str
) -> None:
    """Set one field of ``message`` from its JSON value; null leaves it unset."""
    if item is None:
        return
    if is_map(field):
        _parse_map(message, field, item, path)
    elif field.is_repeated:
        _parse_repeated(message, field, item, path)
    elif field.type == _F.TYPE_MESSAGE:
        _parse_message_value(getattr(message, field.name), item, path)
    else:
        setattr(message, field.name, _parse_scalar(field, item, _where(path)))


def _parse_message_value(target: Message, item: Any, path: str) -> None:
    full_name = target.DESCRIPTOR.full_name
    if full_name == _TIMESTAMP:
        _parse_timestamp(target, item, path)
    elif full_name.startswith(_WELL_KNOWN_PACKAGE):
        try:
            json_format.ParseDict(item, target)
        except json_format.ParseError as error:
            raise JsonMappingError(f"{_where(path)}: {error}") from error
    else:
        target.SetInParent()
        parse_json_into(target, item, path)


def _parse_timestamp(target: Message, item: Any, path: str) -> None:
    if isinstance(item, str):
        try:
            target.FromJsonString(item)
            return
        except ValueError:
            pass
    raise JsonMappingError(
        f"{_where(path)}: expected an RFC 3339 timestamp such as "
        f'"2024-01-02T03:04:05Z", got {describe_json(item)}'
    )


def _parse_repeated(
    message: Message, field: FieldDescriptor, item: Any, path: str
) -> None:
    if not isinstance(item, list):
        raise JsonMappingError(
            f"{_where(path)}: expected a JSON array, got {describe_json(item)}"
        )
    container = getattr(message, field.name)
    for index, element in enumerate(item):
        element_path = f"{path}[{index}]"
        if element is None:
            raise JsonMappingError(f"{_where(element_path)}: null is not allowed")
        if field.type == _F.TYPE_MESSAGE:
            _parse_message_value(container.add(), element, element_path)
        else:
            container.append(_parse_scalar(field, element, _where(element_path)))


def _parse_map(message: Message, field: FieldDescriptor, item: Any, path: str) -> None:
    if not isinstance(item, dict):
        raise JsonMappingError(
            f"{_where(path)}: expected a JSON object, got {describe_json(item)}"
        )
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    container = getattr(message, field.name)
    for key, element in item.items():
        element_path = f"{path}.{key}"
        map_key = _parse_map_key(key_field, key, _where(element_path))
        if element is None:
            raise JsonMappingError(f"{_where(element_path)}: null is not allowed")
        if value_field.type == _F.TYPE_MESSAGE:
            _parse_message_value(container[map_key], element, element_path)
        else:
            container[map_key] = _parse_scalar(
                value_field, element, _where(element_path)
            )


def _parse_map_key(key_field: FieldDescriptor, key: str, where: str) -> Any:
    if key_field.type == _F.TYPE_BOOL:
        return parse_text_value(key_field, key, where)
    return _parse_scalar(key_field, key, where)


# Inline oneofs ---------------------------------------------------------------


@functools.cache
def _discriminated_oneofs(
    descriptor: Descriptor,
) -> tuple[tuple[OneofDescriptor, FieldDescriptor], ...]:
    """Return the inline oneofs whose discriminator is a singular enum field."""
    found = []
    for oneof in descriptor.oneofs:
        option = inline_json_option(oneof)
        if option is None or not option.discriminator:
            continue
        discriminator = descriptor.fields_by_name.get(option.discriminator)
        if (
            discriminator is not None
            and discriminator.type == _F.TYPE_ENUM
            and not discriminator.is_repeated
        ):
            found.append((oneof, discriminator))
    return tuple(found)


def _is_inline_member(field: FieldDescriptor) -> bool:
    oneof = real_oneof(field)
    return oneof is not None and inline_json_option(oneof) is not None


def _is_inline_payload_key(message: Message, key: str, item: Any) -> bool:
    """Return whether a key that names an inline oneof member is instead a field
    of the payload that the discriminator selects.

    TaskSpec needs this: "command" names both the member and a field of
    CommandTask. The payload field wins unless the value is a JSON object that
    the payload field cannot take, which is the nested form.
    """
    for oneof, discriminator in _discriminated_oneofs(message.DESCRIPTOR):
        number = getattr(message, discriminator.name)
        if number == 0:
            # Only the nested form takes a JSON object, so any other value
            # is a payload field sent without the discriminator.
            if not isinstance(item, dict) and _names_payload_field(
                oneof, discriminator, key
            ):
                return True
            continue
        member = _member_for_number(oneof, discriminator, number)
        if member is None:
            continue
        inner = input_field_names(member.message_type).get(key)
        if inner is None:
            continue
        takes_object = inner.type == _F.TYPE_MESSAGE and (
            not inner.is_repeated or is_map(inner)
        )
        return takes_object or not isinstance(item, dict)
    return False


def _parse_inline_payloads(message: Message, extra: dict[str, Any], path: str) -> None:
    groups: dict[str, dict[str, Any]] = {}
    for key, item in extra.items():
        member = _inline_member_for_key(message, key, path)
        groups.setdefault(member.name, {})[key] = item
    descriptor = message.DESCRIPTOR
    for member_name, fields in groups.items():
        member = descriptor.fields_by_name[member_name]
        current = message.WhichOneof(member.containing_oneof.name)
        if current is not None:
            raise JsonMappingError(
                f'{_where(path)}: the payload is given both nested under "{current}" '
                "and inline; use one form"
            )
        target = getattr(message, member_name)
        target.SetInParent()
        parse_json_into(target, fields, path)
    _select_empty_members(message)


def _inline_member_for_key(message: Message, key: str, path: str) -> FieldDescriptor:
    """Return the selected inline member that has the field ``key``."""
    descriptor = message.DESCRIPTOR
    where = _where(_join(path, key))
    discriminated = _discriminated_oneofs(descriptor)
    if not discriminated:
        raise JsonMappingError(f"{where}: unknown field of {descriptor.full_name}")
    checked = [descriptor.full_name]
    for oneof, discriminator in discriminated:
        number = getattr(message, discriminator.name)
        discriminator_path = _join(path, output_key(discriminator))
        if number == 0:
            payload_names = ", ".join(_payload_names(oneof, discriminator))
            if _names_payload_field(oneof, discriminator, key):
                raise JsonMappingError(
                    f'{where}: "{discriminator_path}" is required to choose the '
                    f"payload; set it to one of {payload_names}"
                )
            raise JsonMappingError(
                f"{where}: unknown field of {descriptor.full_name}; payload fields "
                f'need "{discriminator_path}" set to one of {payload_names}'
            )
        member = _member_for_number(oneof, discriminator, number)
        if member is None:
            discriminator_json = json.dumps(
                _enum_to_json(discriminator.enum_type, number)
            )
            raise JsonMappingError(
                f'{where}: unknown field; "{discriminator_path}" {discriminator_json} '
                "has no payload fields"
            )
        if key in input_field_names(member.message_type):
            return member
        checked.append(member.message_type.full_name)
    raise JsonMappingError(
        f"{where}: unknown field; {' and '.join(checked)} have no such field"
    )


def _member_for_number(
    oneof: OneofDescriptor, discriminator: FieldDescriptor, number: int
) -> FieldDescriptor | None:
    value = discriminator.enum_type.values_by_number.get(number)
    if value is None:
        return None
    short_name = enum_short_name(value)
    for member in oneof.fields:
        if member.name == short_name and _is_plain_message(member):
            return member
    return None


def _payload_names(oneof: OneofDescriptor, discriminator: FieldDescriptor) -> list[str]:
    names = []
    for value in discriminator.enum_type.values:
        if _member_for_number(oneof, discriminator, value.number) is not None:
            names.append(enum_short_name(value))
    return names


def _names_payload_field(
    oneof: OneofDescriptor, discriminator: FieldDescriptor, key: str
) -> bool:
    """Return whether ``key`` is a field of any payload the discriminator selects."""
    for value in discriminator.enum_type.values:
        member = _member_for_number(oneof, discriminator, value.number)
        if member is not None and key in input_field_names(member.message_type):
            return True
    return False


def _select_empty_members(message: Message) -> None:
    """Set the member that the discriminator names when no payload key selected it."""
    for oneof, discriminator in _discriminated_oneofs(message.DESCRIPTOR):
        if message.WhichOneof(oneof.name) is not None:
            continue
        number = getattr(message, discriminator.name)
        member = _member_for_number(oneof, discriminator, number)
        if member is not None:
            getattr(message, member.name).SetInParent()


# Scalars -------------------------------------------------------------------


def parse_text_value(field: FieldDescriptor, text: str, where: str) -> Any:
    """Convert a path or query parameter to the Python value of a scalar or
    enum field.

    Accepts what a JSON string of that field accepts; a bool is "true" or
    "false" in any case. ``where`` names the parameter in error messages.
    """
    if field.type == _F.TYPE_BOOL:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise JsonMappingError(f'{where}: expected true or false, got "{text}"')
    return _parse_scalar(field, text, where)


def _parse_scalar(field: FieldDescriptor, item: Any, where: str) -> Any:
    if isinstance(item, str) and _LONE_SURROGATE.search(item):
        raise JsonMappingError(f"{where}: invalid Unicode (lone surrogate)")
    kind = field.type
    if kind == _F.TYPE_ENUM:
        return parse_enum(field.enum_type, item, where)
    if kind in _INTEGER_RANGES:
        return _parse_integer(kind, item, where)
    if kind in _FLOAT_TYPES:
        return _parse_float(kind, item, where)
    if kind == _F.TYPE_BOOL and isinstance(item, bool):
        return item
    if kind == _F.TYPE_STRING and isinstance(item, str):
        return item
    if kind == _F.TYPE_BYTES:
        return _parse_bytes(item, where)
    expected = "true or false" if kind == _F.TYPE_BOOL else "a string"
    raise JsonMappingError(f"{where}: expected {expected}, got {describe_json(item)}")


def _parse_integer(kind: int, item: Any, where: str) -> int:
    low, high = _INTEGER_RANGES[kind]
    if isinstance(item, bool):
        number = None
    elif isinstance(item, int):
        number = item
    elif isinstance(item, float) and item.is_integer():
        number = int(item)
    elif isinstance(item, str) and _INTEGER_TEXT.fullmatch(item):
        number = _int_from_text(item, low, high, where)
    else:
        number = None
    if number is None:
        raise JsonMappingError(
            f"{where}: expected an integer, got {describe_json(item)}"
        )
    return _check_range(number, low, high, where)


def _int_from_text(text: str, low: int, high: int, where: str) -> int:
    """Convert a decimal string, rejecting one longer than any field's range
    before Python's int() digit limit can raise."""
    if len(text) > _MAX_INTEGER_DIGITS:
        _raise_out_of_range(text, low, high, where)
    return int(text)


def _check_range(number: int, low: int, high: int, where: str) -> int:
    if not low <= number <= high:
        _raise_out_of_range(str(number), low, high, where)
    return number


def _raise_out_of_range(text: str, low: int, high: int, where: str) -> None:
    if len(text) > _MAX_INTEGER_DIGITS:
        text = text[:_MAX_INTEGER_DIGITS] + "..."
    raise JsonMappingError(f"{where}: {text} is outside {low}..{high}")


def _parse_float(kind: int, item: Any, where: str) -> float:
    number = None
    if isinstance(item, str) and item in _NON_FINITE_TEXT:
        return _NON_FINITE_TEXT[item]
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        try:
            number = float(item)
        except OverflowError:
            number = math.inf
    elif isinstance(item, str) and _DECIMAL_TEXT.fullmatch(item):
        number = float(item)
    if number is None:
        raise JsonMappingError(f"{where}: expected a number, got {describe_json(item)}")
    too_large = kind == _F.TYPE_FLOAT and abs(number) > _FLOAT32_MAX
    if not math.isfinite(number) or too_large:
        raise JsonMappingError(f"{where}: {item} is out of range for this field")
    return number


def _parse_bytes(item: Any, where: str) -> bytes:
    if isinstance(item, str):
        text = item.replace("-", "+").replace("_", "/")
        text += "=" * (-len(text) % 4)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise JsonMappingError(
        f"{where}: expected a base64 string, got {describe_json(item)}"
    )


@functools.cache
def _enum_numbers_by_name(enum: EnumDescriptor) -> dict[str, int]:
    """Return uppercase short and full value names; full names win clashes."""
    numbers = {enum_short_name(value).upper(): value.number for value in enum.values}
    for value in enum.values:
        numbers[value.name.upper()] = value.number
    return numbers


def enum_input_names(enum: EnumDescriptor) -> list[str]:
    """Return the short names of an enum's values other than the zero value."""
    return [enum_short_name(value) for value in enum.values if value.number != 0]


def parse_enum(enum: EnumDescriptor, item: Any, where: str) -> int:
    """Convert a short name, full name or number to an enum number.

    Names match in any case. A number the enum does not define is returned as
    is, while a name it does not define raises JsonMappingError.
    """
    low, high = _INT32_RANGE
    number = None
    if isinstance(item, int) and not isinstance(item, bool):
        number = item
    elif isinstance(item, str) and _INTEGER_TEXT.fullmatch(item):
        number = _int_from_text(item, low, high, where)
    elif isinstance(item, str):
        number = _enum_numbers_by_name(enum).get(item.upper())
        if number is None:
            raise JsonMappingError(
                f'{where}: unknown {enum.name} name "{item}"; use one of '
                f"{', '.join(enum_input_names(enum))}, or a number"
            )
        return number
    if number is None:
        raise JsonMappingError(
            f"{where}: expected a {enum.name} name or number, got {describe_json(item)}"
        )
    return _check_range(number, low, high, where)


# Messages ------------------------------------------------------------------


def describe_json(value: Any) -> str:
    """Return the JSON type of a value for error messages.

    The value itself is left out, because it may be a secret such as a
    password, and error messages reach logs.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _where(path: str) -> str:
    return f'field "{path}"' if path else "request body"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
