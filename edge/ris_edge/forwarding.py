"""gRPC metadata that the edge sends with each call, built from the HTTP request."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from ris_server.client_address import (
    CLIENT_ADDRESS_KEY,
    EDGE_SIGNATURE_KEY,
    IPNetwork,
    forwarded_hops,
    parse_address,
    resolve_client,
    sign_client_address,
)

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


def client_address_metadata(
    *,
    client_host: str | None,
    incoming_forwarded_for: str | None,
    trusted_proxies: Sequence[IPNetwork],
    edge_key: bytes | None,
) -> list[tuple[str, str]]:
    """Return the HTTP client's address and its signature under the edge key,
    as the hub expects them; empty without a key or a client address.

    The address is the peer's unless the peer is a trusted proxy, in which
    case X-Forwarded-For is walked from the right past trusted proxies, as
    the hub does for its own peers.
    """
    if not edge_key or not client_host:
        return []
    peer = parse_address(client_host)
    if peer is None:
        return []
    hops = forwarded_hops([incoming_forwarded_for or ""])
    address = str(resolve_client(peer, hops, trusted_proxies))
    return [
        (CLIENT_ADDRESS_KEY, address),
        (EDGE_SIGNATURE_KEY, sign_client_address(edge_key, address)),
    ]


def backend_metadata(
    *,
    authorization: str | None,
    incoming_forwarded_for: str | None,
    client_host: str | None,
    request_id: str,
    trusted_proxies: Sequence[IPNetwork] = (),
    edge_key: bytes | None = None,
) -> list[tuple[str, str]]:
    """Return the metadata of a backend call.

    With an edge key the metadata carries the signed client address (see
    client_address_metadata). Raises InvalidHeaderError when the Authorization
    or X-Forwarded-For header contains characters that gRPC metadata cannot
    carry.
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
    metadata.extend(
        client_address_metadata(
            client_host=client_host,
            incoming_forwarded_for=incoming_forwarded_for,
            trusted_proxies=trusted_proxies,
            edge_key=edge_key,
        )
    )
    return metadata


def _check_printable(header: str, value: str) -> None:
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise InvalidHeaderError(
            f"{header} header contains characters outside printable ASCII"
        )
