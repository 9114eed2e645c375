"""Build the gRPC request message of a route from the parts of an HTTP request.

The JSON body is applied first, then path parameters, which override body
values, then query parameters. Query parameters may set any scalar or enum
field, nested ones by a dotted name, that neither the path nor the body
binds. So a route with ``body: "*"`` accepts no query parameter. A repeated
field takes a parameter given several times, and any other field takes a
parameter given once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ris_edge.contract import is_map
from ris_edge.jsonmap import (
    JsonMappingError,
    input_field_names,
    output_key,
    parse_json_field,
    parse_json_into,
    parse_text_value,
)
from ris_edge.routes import Route, resolve_field_path

_WELL_KNOWN_PACKAGE = "google.protobuf."


class InvalidRequestError(ValueError):
    """An HTTP request that does not map to the route's request message."""


def build_request(
    route: Route,
    path_params: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    body: bytes,
) -> Message:
    """Return the request message for ``route``; raises InvalidRequestError."""
    message = route.request_class()
    try:
        _apply_body(route, message, body)
        _apply_path_params(message, path_params)
        _apply_query(route, message, list(query))
    except JsonMappingError as error:
        raise InvalidRequestError(str(error)) from error
    return message


def decode_json_body(raw: bytes) -> Any:
    """Parse a UTF-8 JSON document; raises InvalidRequestError.

    Duplicate object keys and the bare constants NaN and Infinity, which
    Python's json module would accept, are rejected.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidRequestError("request body is not valid UTF-8") from error
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as error:
        raise InvalidRequestError(
            f"request body is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from error
    except RecursionError as error:
        raise InvalidRequestError("request body nests JSON too deeply") from error
    except InvalidRequestError:
        raise
    except ValueError as error:
        # json raises a plain ValueError for an integer longer than Python's
        # int() digit limit (sys.get_int_max_str_digits, 4300 by default).
        raise InvalidRequestError(
            "request body is not valid JSON: a number has too many digits"
        ) from error


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequestError(
                f'request body is not valid: key "{key}" appears twice in one object'
            )
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise InvalidRequestError(
        f"request body is not valid JSON: {name} must be written as a string"
    )


def _apply_body(route: Route, message: Message, body: bytes) -> None:
    if not route.body:
        if body.strip():
            raise InvalidRequestError(
                f"{route.http_method} {route.template} takes no request body"
            )
        return
    if not body.strip():
        return
    value = decode_json_body(body)
    if route.body == "*":
        parse_json_into(message, value)
        return
    field = message.DESCRIPTOR.fields_by_name[route.body]
    parse_json_field(message, field, value, output_key(field))


def _apply_path_params(message: Message, path_params: Mapping[str, str]) -> None:
    for field_path, text in path_params.items():
        fields = resolve_field_path(message.DESCRIPTOR, field_path)
        where = f'path parameter "{field_path}"'
        _set_scalar(message, fields, [text], where)


def _apply_query(route: Route, message: Message, query: list[tuple[str, str]]) -> None:
    values_by_name: dict[str, list[str]] = {}
    for name, value in query:
        values_by_name.setdefault(name, []).append(value)
    bound = set(route.variables)
    if route.body:
        bound.add(route.body.split(".")[0])
    for name, values in values_by_name.items():
        where = f'query parameter "{name}"'
        fields = _resolve_query_name(message.DESCRIPTOR, name)
        if fields is None or route.body == "*":
            raise InvalidRequestError(
                f"unknown {where}; {_allowed_query_text(route, bound)}"
            )
        proto_path = ".".join(field.name for field in fields)
        if proto_path in bound or fields[0].name in bound:
            raise InvalidRequestError(
                f"{where} sets a field that the path or body binds; remove it"
            )
        if len(values) > 1 and not fields[-1].is_repeated:
            raise InvalidRequestError(
                f"{where} is given {len(values)} times, but its field takes one value"
            )
        _set_scalar(message, fields, values, where)


def _resolve_query_name(
    descriptor: Descriptor, name: str
) -> list[FieldDescriptor] | None:
    """Return the fields along a dotted query name, or None when it names no
    scalar or enum field."""
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor
    for part in name.split("."):
        if current is None:
            return None
        found = input_field_names(current).get(part)
        if found is None:
            return None
        fields.append(found)
        current = _singular_message_type(found)
    if not _is_query_leaf(fields[-1]):
        return None
    return fields


def _singular_message_type(field: FieldDescriptor) -> Descriptor | None:
    if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
        return None
    if field.message_type.full_name.startswith(_WELL_KNOWN_PACKAGE):
        return None
    return field.message_type


def _is_query_leaf(field: FieldDescriptor) -> bool:
    return field.type != FieldDescriptor.TYPE_MESSAGE and not is_map(field)


def _allowed_query_text(route: Route, bound: set[str]) -> str:
    if route.body == "*":
        return "this route reads its fields from the JSON body"
    names = [
        field.name
        for field in route.method.input_type.fields
        if _is_query_leaf(field) and field.name not in bound
    ]
    if not names:
        return "this route takes no query parameters"
    return f"allowed: {', '.join(names)}"


def _set_scalar(
    message: Message, fields: list[FieldDescriptor], texts: list[str], where: str
) -> None:
    target = message
    for field in fields[:-1]:
        target = getattr(target, field.name)
    leaf = fields[-1]
    values = [parse_text_value(leaf, text, where) for text in texts]
    if leaf.is_repeated:
        getattr(target, leaf.name).extend(values)
    else:
        setattr(target, leaf.name, values[0])
