"""The ``ris-edge`` command: serve the REST edge in front of a hub."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn

from ris_edge.app import create_app
from ris_edge.settings import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    MIN_EDGE_KEY_BYTES,
    EdgeSettings,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``ris-edge``."""
    parser = argparse.ArgumentParser(
        prog="ris-edge", description="Serve the RIS REST/JSON API in front of a hub."
    )
    parser.add_argument(
        "--backend", required=True, help="hub gRPC address as HOST:PORT"
    )
    parser.add_argument(
        "--ca-file", help="PEM CA bundle for TLS to the hub; plaintext when omitted"
    )
    parser.add_argument("--server-name", help="name expected in the hub's certificate")

    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8057, help="TCP port to listen on")

    parser.add_argument("--tls-cert", help="PEM certificate for HTTPS; needs --tls-key")
    parser.add_argument("--tls-key", help="PEM private key for HTTPS; needs --tls-cert")

    parser.add_argument(
        "--call-timeout",
        type=float,
        default=DEFAULT_CALL_TIMEOUT,
        help="deadline of each hub call, in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest request body, in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="origin allowed by CORS; repeat for more; CORS is off when omitted",
    )
    parser.add_argument(
        "--edge-key-file",
        help="copy of the hub's DATA/edge.key; with it the hub rate-limits each HTTP "
        "client by its own address, without it all REST callers share the edge's",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="address or CIDR network of a proxy in front of the edge whose "
        "X-Forwarded-For is believed; repeat for more",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level (default: %(default)s)",
    )
    return parser


def settings_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> EdgeSettings:
    """Return EdgeSettings for parsed arguments; exits through ``parser.error``
    on invalid ones."""
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key must be given together")
    ca_pem = None
    if args.ca_file:
        try:
            with open(args.ca_file, "rb") as ca_file:
                ca_pem = ca_file.read()
        except OSError as error:
            parser.error(f"cannot read --ca-file {args.ca_file}: {error.strerror}")
    edge_key = None
    if args.edge_key_file:
        try:
            with open(args.edge_key_file, "rb") as key_file:
                edge_key = key_file.read()
        except OSError as error:
            parser.error(
                f"cannot read --edge-key-file {args.edge_key_file}: {error.strerror}"
            )
        if len(edge_key) < MIN_EDGE_KEY_BYTES:
            parser.error(
                f"--edge-key-file {args.edge_key_file} contains {len(edge_key)} bytes, "
                f"fewer than {MIN_EDGE_KEY_BYTES}; copy the hub's DATA/edge.key"
            )
    try:
        return EdgeSettings(
            backend=args.backend,
            ca_pem=ca_pem,
            server_name=args.server_name,
            call_timeout=args.call_timeout,
            cors_enabled=bool(args.cors_origin),
            cors_allowed_origins=tuple(args.cors_origin),
            max_body_bytes=args.max_body_bytes,
            edge_key=edge_key,
            trusted_proxies=tuple(args.trusted_proxy),
        )
    except ValueError as error:
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and serve until SIGINT or SIGTERM."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from_args(parser, args)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        # The edge appends the peer address to X-Forwarded-For itself.
        proxy_headers=False,
        log_config=None,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
