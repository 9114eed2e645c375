"""Settings of the REST edge."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CALL_TIMEOUT = 330.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


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


def check_backend_address(address: str) -> None:
    """Raise ValueError unless ``address`` is "HOST:PORT" with a port of 1 to 65535."""
    host, separator, port = address.rpartition(":")
    valid_port = port.isdigit() and 1 <= int(port) <= 65535
    if not separator or not host or not valid_port:
        raise ValueError(f"backend must be HOST:PORT, got {address!r}")
