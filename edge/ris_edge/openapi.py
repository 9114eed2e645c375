"""OpenAPI 3.1 document of the edge, built from the route table.

Schemas follow the output rules of ris_edge.jsonmap: proto field names,
enums as short lowercase names, 64-bit integers as numbers, timestamps as
date-time strings, and inline oneof members merged into their parent. Each
operation's description is the RPC's leading comment. protoc's Python output
has no source info, so the comment comes from the generated servicer's
docstring, with the method's full name when that is missing.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from ris.v1 import system_pb2
from ris_edge.contract import inline_json_option, is_map, method_comment, real_oneof
from ris_edge.jsonmap import enum_input_names, output_key
from ris_edge.routes import PathVariable, Route, RouteTable, resolve_field_path

_F = FieldDescriptor
_SCHEMA_PREFIX = "#/components/schemas/"
_ERROR_ENVELOPE = "ErrorEnvelope"
_WELL_KNOWN_PACKAGE = "google.protobuf."
_INTEGER_FORMATS = {
    _F.TYPE_INT32: "int32",
    _F.TYPE_SINT32: "int32",
    _F.TYPE_SFIXED32: "int32",
    _F.TYPE_UINT32: "uint32",
    _F.TYPE_FIXED32: "uint32",
    _F.TYPE_INT64: "int64",
    _F.TYPE_SINT64: "int64",
    _F.TYPE_SFIXED64: "int64",
    _F.TYPE_UINT64: "uint64",
    _F.TYPE_FIXED64: "uint64",
}
_INFO_DESCRIPTION = (
    "REST/JSON edge of the RIS hub. Each operation calls the gRPC method named "
    "in its description. Successful responses are wrapped as "
    '{"success": true, "data": ...}; errors as {"success": false, "error": '
    '{"code": <gRPC status name>, "message": ...}}. Request keys may be proto '
    "names, lowerCamelCase or the documented json_name; enums accept the short "
    "name, the full name or the number; 64-bit integers accept numbers or "
    "decimal strings."
)


def build_openapi(table: RouteTable, title: str = "RIS REST API") -> dict[str, Any]:
    """Return the OpenAPI 3.1 document for every route of ``table``."""
    builder = _SchemaBuilder()
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: dict[str, int] = {}
    for route in table.routes:
        operation = _operation(route, builder)
        base_id = operation["operationId"]
        operation_ids[base_id] = operation_ids.get(base_id, 0) + 1
        if operation_ids[base_id] > 1:
            operation["operationId"] = f"{base_id}_{operation_ids[base_id]}"
        path_item = paths.setdefault(openapi_path(route), {})
        path_item[route.http_method.lower()] = operation
    paths.update(_probe_paths(builder))
    builder.schemas[_ERROR_ENVELOPE] = _error_envelope_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "v1", "description": _INFO_DESCRIPTION},
        "paths": paths,
        "components": {"schemas": dict(sorted(builder.schemas.items()))},
    }


def openapi_path(route: Route) -> str:
    """Return the route template in OpenAPI form: ``{name=**}`` becomes ``{name}``."""
    parts = []
    for segment in route.segments:
        if isinstance(segment, PathVariable):
            parts.append("{" + segment.field_path + "}")
        else:
            parts.append(segment)
    return "/" + "/".join(parts)


def _operation(route: Route, builder: _SchemaBuilder) -> dict[str, Any]:
    method = route.method
    operation: dict[str, Any] = {
        "operationId": f"{method.containing_service.name}_{method.name}",
        "summary": method.name,
        "description": method_comment(method) or method.full_name,
        "tags": [method.containing_service.name],
        "parameters": _path_parameters(route, builder)
        + _query_parameters(route, builder),
        "responses": {
            "200": _json_response("Success", _success_schema(route, builder)),
            "default": _json_response(
                "Error", {"$ref": _SCHEMA_PREFIX + _ERROR_ENVELOPE}
            ),
        },
    }
    if route.body:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _body_schema(route, builder)}},
        }
    return operation


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _path_parameters(route: Route, builder: _SchemaBuilder) -> list[dict[str, Any]]:
    parameters = []
    for variable in route.variables:
        leaf = resolve_field_path(route.method.input_type, variable)[-1]
        parameters.append(
            {
                "name": variable,
                "in": "path",
                "required": True,
                "schema": builder.field_schema(leaf),
            }
        )
    return parameters


def _query_parameters(route: Route, builder: _SchemaBuilder) -> list[dict[str, Any]]:
    if route.body == "*":
        return []
    bound = {variable.split(".")[0] for variable in route.variables}
    if route.body:
        bound.add(route.body)
    parameters = []
    for name, field in _query_leaves(route.method.input_type, "", bound, set()):
        parameter = {"name": name, "in": "query", "schema": builder.field_schema(field)}
        if field.is_repeated:
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _query_leaves(
    descriptor: Descriptor, prefix: str, bound: set[str], visiting: set[str]
) -> list[tuple[str, FieldDescriptor]]:
    """Return (dotted name, field) of every scalar or enum field reachable
    through singular message fields; a recursive message is entered once."""
    leaves = []
    visiting = visiting | {descriptor.full_name}
    for field in descriptor.fields:
        if not prefix and field.name in bound:
            continue
        name = prefix + output_key(field)
        if field.type != _F.TYPE_MESSAGE:
            leaves.append((name, field))
            continue
        nested = field.message_type
        plain = not nested.full_name.startswith(_WELL_KNOWN_PACKAGE)
        if plain and not field.is_repeated and nested.full_name not in visiting:
            leaves.extend(_query_leaves(nested, name + ".", bound, visiting))
    return leaves


def _body_schema(route: Route, builder: _SchemaBuilder) -> dict[str, Any]:
    if route.body == "*":
        return builder.message_ref(route.method.input_type)
    return builder.field_schema(route.method.input_type.fields_by_name[route.body])


def _success_schema(route: Route, builder: _SchemaBuilder) -> dict[str, Any]:
    response = route.method.output_type
    properties: dict[str, Any] = {"success": {"type": "boolean", "const": True}}
    if not route.response_body:
        properties["data"] = builder.message_ref(response)
    else:
        properties["data"] = builder.field_schema(
            response.fields_by_name[route.response_body]
        )
        for field in response.fields:
            if field.name != route.response_body:
                properties[output_key(field)] = builder.field_schema(field)
    return {"type": "object", "required": ["success", "data"], "properties": properties}


def _probe_paths(builder: _SchemaBuilder) -> dict[str, Any]:
    health_ref = builder.message_ref(system_pb2.GetHealthResponse.DESCRIPTOR)
    ready_schema = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not_ready"]},
            "reason": {"type": "string"},
        },
    }
    return {
        "/health": {
            "get": {
                "operationId": "Edge_Health",
                "summary": "Health",
                "description": "ris.v1.SystemService.GetHealth without the envelope: "
                'HTTP 200 when status is "healthy", else 503.',
                "tags": ["Edge"],
                "responses": {
                    "200": _json_response("Healthy", health_ref),
                    "503": _json_response(
                        "Unhealthy or unreachable", {"type": "object"}
                    ),
                },
            }
        },
        "/ready": {
            "get": {
                "operationId": "Edge_Ready",
                "summary": "Ready",
                "description": "grpc.health.v1.Health/Check of the whole hub.",
                "tags": ["Edge"],
                "responses": {
                    "200": _json_response("Ready", ready_schema),
                    "503": _json_response("Not ready", ready_schema),
                },
            }
        },
    }


def _error_envelope_schema() -> dict[str, Any]:
    codes = [code.name for code in grpc.StatusCode if code != grpc.StatusCode.OK]
    return {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "const": False},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                },
            },
        },
    }


class _SchemaBuilder:
    """Collects a component schema for each message and enum it meets."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def message_ref(self, descriptor: Descriptor) -> dict[str, Any]:
        name = descriptor.full_name
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder that stops recursion
            self.schemas[name] = self._message_schema(descriptor)
        return {"$ref": _SCHEMA_PREFIX + name}

    def enum_ref(self, enum: EnumDescriptor) -> dict[str, Any]:
        name = enum.full_name
        if name not in self.schemas:
            self.schemas[name] = {
                "type": "string",
                "enum": enum_input_names(enum),
                "description": "Input also accepts the full value name or its number.",
            }
        return {"$ref": _SCHEMA_PREFIX + name}

    def field_schema(self, field: FieldDescriptor) -> dict[str, Any]:
        if is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value_field)}
        if field.is_repeated:
            return {"type": "array", "items": self._single(field)}
        return self._single(field)

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        kind = field.type
        if kind == _F.TYPE_MESSAGE:
            return self._message_value(field.message_type)
        if kind == _F.TYPE_ENUM:
            return self.enum_ref(field.enum_type)
        if kind in _INTEGER_FORMATS:
            return {"type": "integer", "format": _INTEGER_FORMATS[kind]}
        if kind == _F.TYPE_DOUBLE:
            return {"type": "number", "format": "double"}
        if kind == _F.TYPE_FLOAT:
            return {"type": "number", "format": "float"}
        if kind == _F.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == _F.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        return {"type": "string"}

    def _message_value(self, descriptor: Descriptor) -> dict[str, Any]:
        if descriptor.full_name == "google.protobuf.Timestamp":
            return {"type": "string", "format": "date-time"}
        if descriptor.full_name.startswith(_WELL_KNOWN_PACKAGE):
            return {"description": f"{descriptor.full_name} in protobuf JSON form"}
        return self.message_ref(descriptor)

    def _message_schema(self, descriptor: Descriptor) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        inline_members = []
        for field in descriptor.fields:
            oneof = real_oneof(field)
            inline = oneof is not None and inline_json_option(oneof) is not None
            if inline and field.type == _F.TYPE_MESSAGE:
                inline_members.append(field)
            else:
                properties[output_key(field)] = self.field_schema(field)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if inline_members:
            names = ", ".join(field.name for field in inline_members)
            schema["anyOf"] = [self.message_ref(f.message_type) for f in inline_members]
            schema["description"] = (
                f"The fields of one of {names} sit beside the fields listed here."
            )
        return schema
