"""gRPC metadata that the edge sends with each call, built from the HTTP request."""

from __future__ import annotations

import re
import uuid

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# gRPC accepts only printable ASCII in the values of text metadata keys.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class InvalidHeaderError(ValueError):
    """A header value that cannot be sent as gRPC metadata."""


def resolve_request_id(incoming: str | None) -> str:
    """Return the incoming request id, or a new one when it is missing or invalid.

    A valid id is 1 to 128 letters, digits, '.', '_', ':' or '-'.
    """
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def forwarded_for(incoming: str | None, client_host: str | None) -> str | None:
    """Return the X-Forwarded-For chain with the client's address appended."""
    hops = [hop.strip() for hop in (incoming or "").split(",") if hop.strip()]
    if client_host:
        hops.append(client_host)
    return ", ".join(hops) or None


def backend_metadata(
    *,
    authorization: str | None,
    incoming_forwarded_for: str | None,
    client_host: str | None,
    request_id: str,
) -> list[tuple[str, str]]:
    """Return the metadata of a backend call.

    Raises InvalidHeaderError when the Authorization or X-Forwarded-For header
    contains characters that gRPC metadata cannot carry.
    """
    metadata = [(REQUEST_ID_HEADER, request_id)]
    if authorization:
        _check_printable("Authorization", authorization)
        metadata.append(("authorization", authorization))
    if incoming_forwarded_for:
        _check_printable("X-Forwarded-For", incoming_forwarded_for)
    chain = forwarded_for(incoming_forwarded_for, client_host)
    if chain:
        metadata.append(("x-forwarded-for", chain))
    return metadata


def _check_printable(header: str, value: str) -> None:
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise InvalidHeaderError(
            f"{header} header contains characters outside printable ASCII"
        )
