"""Mapping of gRPC status codes to HTTP statuses, and the JSON envelopes.

Success bodies are ``{"success": true, "data": ...}`` and error bodies are
``{"success": false, "error": {"code": "NOT_FOUND", "message": "..."}}``,
where ``code`` is the gRPC status name.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.message import Message

from ris_edge.jsonmap import message_to_json, output_key
from ris_edge.text_escape import escape_unencodable

# 499 is the non-standard status for a request that the client closed.
HTTP_STATUS_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


def http_status(code: grpc.StatusCode) -> int:
    """Return the HTTP status for a gRPC code; 500 for a code not in the table."""
    return HTTP_STATUS_BY_CODE.get(code, 500)


def error_body(code: grpc.StatusCode, message: str) -> dict[str, Any]:
    """Return the error envelope for a gRPC code and a message.

    Lone surrogates from the request, which UTF-8 cannot encode, appear in
    ``message`` as ``\\uXXXX`` escapes.
    """
    safe_message = escape_unencodable(message)
    return {"success": False, "error": {"code": code.name, "message": safe_message}}


def success_body(response: Message, response_body: str) -> dict[str, Any]:
    """Return the success envelope of an RPC response.

    Without ``response_body`` the whole response is ``data``. With it,
    ``data`` is that field (null when an unset message) and the response's
    other fields sit beside ``data``.
    """
    rendered = message_to_json(response)
    if not response_body:
        return {"success": True, "data": rendered}
    field = response.DESCRIPTOR.fields_by_name[response_body]
    key = output_key(field)
    body: dict[str, Any] = {"success": True, "data": rendered.pop(key, None)}
    body.update(rendered)
    return body


def code_for_http_status(status: int) -> grpc.StatusCode:
    """Return the gRPC code for an HTTP error the edge itself produces.

    405 is UNIMPLEMENTED and 413 is INVALID_ARGUMENT. Any other status takes
    the first code that the table maps to it, or UNKNOWN.
    """
    if status == 405:
        return grpc.StatusCode.UNIMPLEMENTED
    if status == 413:
        return grpc.StatusCode.INVALID_ARGUMENT
    for code, mapped in HTTP_STATUS_BY_CODE.items():
        if mapped == status:
            return code
    return grpc.StatusCode.UNKNOWN
