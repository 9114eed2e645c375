"""The address of the client behind a request: peer, trusted proxies, edge.

The hub uses the gRPC peer's address unless the peer is a trusted proxy. Then
it walks X-Forwarded-For from the right, past every trusted proxy, and takes
the first address that is not one. A header from any other peer is ignored,
because any client can write one.

The REST edge calls the hub from its own address, so it resolves the HTTP
client's address with the same rule. It sends the address in the metadata
`x-ris-client-address`, and in `x-ris-edge-signature` the hex HMAC-SHA256 of
the address under the edge key, a secret shared only by the hub and its
edges. The hub uses the forwarded address only when the signature matches.
The edge imports this module too, so it stays free of hub state.
"""

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CLIENT_ADDRESS_KEY = "x-ris-client-address"
EDGE_SIGNATURE_KEY = "x-ris-edge-signature"
FORWARDED_FOR_KEY = "x-forwarded-for"
# Distinguishes these signatures from any other use of the edge key.
_SIGNATURE_CONTEXT = b"ris-edge client address\n"


def parse_network(text: str) -> IPNetwork:
    """Parse an IPv4 or IPv6 address or CIDR network such as "10.0.0.0/8".

    Raises ValueError naming the entry when it is neither, or when it has
    bits set past the prefix length (write "10.0.0.0/8", not "10.0.0.1/8").
    """
    text = text.strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or CIDR network") from None
    raise ValueError(
        f"{text!r} has bits set past the prefix length; write {str(network)!r}"
    )


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(parse_network(entry) for entry in entries)


def parse_address(text: str) -> IPAddress | None:
    """Parse one address; IPv4-mapped IPv6 becomes IPv4. None when invalid."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
    return address


def parse_grpc_peer(peer: str | None) -> IPAddress | None:
    """Return the address in a gRPC peer string such as "ipv4:10.0.0.1:5000" or
    "ipv6:[::1]:5000"; None for other transports such as "unix:"."""
    if not peer:
        return None
    transport, _, rest = peer.partition(":")
    if transport == "ipv4":
        return parse_address(rest.rpartition(":")[0])
    if transport == "ipv6":
        host = rest.rpartition(":")[0]
        return parse_address(host)
    return None


def in_networks(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def forwarded_hops(values: Iterable[str]) -> list[str]:
    """Split X-Forwarded-For header values into hops, leftmost first."""
    hops = []
    for value in values:
        hops.extend(hop.strip() for hop in value.split(",") if hop.strip())
    return hops


def resolve_client(
    peer: IPAddress,
    forwarded_for: Sequence[str],
    trusted_proxies: Sequence[IPNetwork],
) -> IPAddress:
    """Return the client's address from the peer and its X-Forwarded-For hops.

    Only a trusted peer's hops count. The walk goes right to left past
    trusted proxies. It stops at an invalid hop, taking the last trusted
    address seen, because the proxy that added the hop was trusted. When every
    hop is a trusted proxy, the leftmost one is the client.
    """
    client = peer
    if not in_networks(peer, trusted_proxies):
        return client
    for hop in reversed(forwarded_for):
        address = parse_address(hop)
        if address is None:
            return client
        client = address
        if not in_networks(address, trusted_proxies):
            return client
    return client


def sign_client_address(key: bytes, address: str) -> str:
    """Return the edge signature of a client address under the edge key."""
    mac = hmac.new(key, _SIGNATURE_CONTEXT + address.encode("ascii"), hashlib.sha256)
    return mac.hexdigest()


def verified_edge_address(
    key: bytes | None, address: str | None, signature: str | None
) -> IPAddress | None:
    """Return the address an edge forwarded, or None unless its signature under
    `key` is valid and the address parses."""
    if not key or not address or not signature:
        return None
    try:
        expected = sign_client_address(key, address)
    except UnicodeEncodeError:
        return None
    if not hmac.compare_digest(expected, signature):
        return None
    return parse_address(address)


def bucket_address(address: IPAddress) -> str:
    """Return the rate-limit key part of an address: an IPv4 address, or the
    /64 network of an IPv6 address, because one IPv6 host is usually assigned
    a whole /64."""
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((int(address) >> 64 << 64, 64))
        return str(network)
    return str(address)


class ClientAddressResolver:
    """Finds the client address of a gRPC call from its peer and metadata."""

    def __init__(
        self, trusted_proxies: Sequence[IPNetwork] = (), edge_key: bytes | None = None
    ) -> None:
        self._trusted_proxies = tuple(trusted_proxies)
        self._edge_key = edge_key

    def resolve(
        self, peer: str | None, metadata: Iterable[tuple[str, str | bytes]] | None
    ) -> IPAddress | None:
        """Return the address a verified edge forwarded, else the peer's or,
        behind trusted proxies, the forwarded client's. None for a peer
        without an IP address."""
        values: dict[str, list[str]] = {}
        for key, value in metadata or ():
            if isinstance(value, str):
                values.setdefault(key, []).append(value)
        forwarded = values.get(CLIENT_ADDRESS_KEY, [])
        signatures = values.get(EDGE_SIGNATURE_KEY, [])
        if len(forwarded) == 1 and len(signatures) == 1:
            address = verified_edge_address(self._edge_key, forwarded[0], signatures[0])
            if address is not None:
                return address
        peer_address = parse_grpc_peer(peer)
        if peer_address is None:
            return None
        hops = forwarded_hops(values.get(FORWARDED_FOR_KEY, []))
        return resolve_client(peer_address, hops, self._trusted_proxies)
