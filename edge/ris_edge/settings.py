"""Settings of the REST edge."""

from __future__ import annotations

from dataclasses import dataclass, field

from ris_server.client_address import IPNetwork, parse_networks

DEFAULT_CALL_TIMEOUT = 330.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# The hub writes 32 random bytes; a shorter key is a wrong or truncated file.
MIN_EDGE_KEY_BYTES = 32


@dataclass
class EdgeSettings:
    """Settings of one edge app.

    Construction rejects invalid values and turns the CORS lists into tuples.
    ``create_app`` reads the settings once, so later changes do not reach an
    app that already exists.
    """

    # gRPC address of the hub as "HOST:PORT"; an IPv6 host goes in brackets.
    backend: str
    # PEM CA bundle that verifies the hub's certificate; None for plaintext.
    ca_pem: bytes | None = None
    # Name expected in the hub's certificate, when it differs from HOST.
    server_name: str | None = None
    # Deadline of each backend call, in seconds. The default covers a
    # synchronous ExecuteTask with a task timeout of up to 300 s, plus 30 s of
    # overhead. Longer synchronous calls need a larger value.
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    # Deadline of the calls behind /health and /ready, in seconds.
    probe_timeout: float = 5.0
    cors_enabled: bool = False
    cors_allowed_origins: tuple[str, ...] = ()
    cors_allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
    cors_allowed_headers: tuple[str, ...] = (
        "Authorization",
        "Content-Type",
        "X-Request-ID",
    )
    # Largest request body, in bytes; a larger one gets HTTP 413.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Secret shared with the hub (its DATA/edge.key). With it the edge sends
    # each HTTP client's address, signed, so the hub's rate limits apply per
    # client. Without it every REST caller counts as the edge's own address.
    edge_key: bytes | None = field(default=None, repr=False)
    # Addresses or CIDR networks of proxies in front of the edge whose
    # X-Forwarded-For entries are believed.
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_backend_address(self.backend)
        if self.call_timeout <= 0 or self.probe_timeout <= 0:
            raise ValueError("call_timeout and probe_timeout must be positive seconds")
        if self.max_body_bytes <= 0:
            raise ValueError(
                f"max_body_bytes must be positive, got {self.max_body_bytes}"
            )
        for name in (
            "cors_allowed_origins",
            "cors_allowed_methods",
            "cors_allowed_headers",
        ):
            setattr(self, name, tuple(getattr(self, name)))
        self.trusted_proxies = tuple(self.trusted_proxies)
        try:
            self.trusted_proxy_networks: tuple[IPNetwork, ...] = parse_networks(
                self.trusted_proxies
            )
        except ValueError as error:
            raise ValueError(f"trusted_proxies: {error}") from None
        if self.edge_key is not None and len(self.edge_key) < MIN_EDGE_KEY_BYTES:
            raise ValueError(
                f"edge_key must be at least {MIN_EDGE_KEY_BYTES} bytes, got "
                f"{len(self.edge_key)}"
            )


def check_backend_address(address: str) -> None:
    """Raise ValueError unless ``address`` is "HOST:PORT" with a port of 1 to 65535."""
    host, separator, port = address.rpartition(":")
    valid_port = port.isdigit() and 1 <= int(port) <= 65535
    if not separator or not host or not valid_port:
        raise ValueError(f"backend must be HOST:PORT, got {address!r}")
