"""TLS policy of the hub's listeners: versions and cipher suites.

grpcio's Python server negotiates TLS 1.2 or 1.3 and offers no setting for
either bound (checked against grpcio 1.85: `grpc.ssl_server_credentials` takes
no version arguments). Its TLS 1.2 cipher suites come from the
GRPC_SSL_CIPHER_SUITES environment variable, which gRPC reads once when the
module is imported, so `ris-server` sets it and starts itself again when the
configured list differs. TLS 1.3 suites are fixed by BoringSSL and cannot be
chosen.
"""

import os
import re
import ssl

CIPHER_ENV = "GRPC_SSL_CIPHER_SUITES"

# An OpenSSL-style TLS 1.2 suite name, such as ECDHE-ECDSA-AES256-GCM-SHA384.
_SUITE_NAME = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)+$")


class TlsPolicyError(ValueError):
    """A TLS setting the hub cannot enforce; the message names the key."""


def check_min_version(value: str, key: str) -> None:
    """Reject a minimum version that the gRPC listeners cannot enforce."""
    if value != "1.2":
        raise TlsPolicyError(
            f"{key} = {value!r} is not supported: the gRPC server accepts TLS "
            "1.2 and 1.3 and cannot require 1.3; use '1.2'"
        )


def check_max_version(value: str, key: str) -> None:
    """Reject a maximum version that the gRPC listeners cannot enforce."""
    if value != "1.3":
        raise TlsPolicyError(
            f"{key} = {value!r} is not supported: the gRPC server always "
            "offers TLS 1.3; use '1.3'"
        )


def check_cipher_suites(suites: list[str], key: str) -> str | None:
    """Return the colon-joined suite list, or None to keep gRPC's defaults."""
    if not suites:
        return None
    for suite in suites:
        if suite.startswith("TLS_"):
            raise TlsPolicyError(
                f"{key} entry {suite[:64]!r} is a TLS 1.3 suite; those are "
                "fixed by the TLS library, so list only TLS 1.2 suites"
            )
        if not _SUITE_NAME.match(suite):
            raise TlsPolicyError(
                f"{key} entry {suite[:64]!r} is invalid: use OpenSSL names such "
                "as 'ECDHE-ECDSA-AES256-GCM-SHA384'"
            )
        if not _known_suite(suite):
            raise TlsPolicyError(
                f"{key} entry {suite!r} is not a TLS 1.2 suite the TLS library "
                "knows; check the spelling, e.g. 'ECDHE-ECDSA-AES256-GCM-SHA384'"
            )
    return ":".join(suites)


def _known_suite(suite: str) -> bool:
    """Return True when Python's OpenSSL accepts the suite name.

    gRPC uses BoringSSL, which supports fewer suites than OpenSSL, so a name
    that passes here can still fail when the port is bound.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers(suite)
    except ssl.SSLError:
        return False
    return True


def cipher_suites_pending(value: str | None, environ=os.environ) -> bool:
    """Return True when gRPC in this process does not use the suite list."""
    return value is not None and environ.get(CIPHER_ENV) != value


def require_cipher_suites(value: str | None, environ=os.environ) -> None:
    """Raise TlsPolicyError when the configured suites are not in effect."""
    if cipher_suites_pending(value, environ):
        raise TlsPolicyError(
            "server.tls.cipher_suites takes effect only when set before gRPC "
            f"is imported: run the hub with ris-server, or set {CIPHER_ENV} to "
            "the same colon-separated list in the embedding process"
        )


def edge_ciphers(value: str | None) -> str:
    """Return the OpenSSL cipher string for the REST edge's TLS listener."""
    return value or "ECDHE+AESGCM:ECDHE+CHACHA20"
