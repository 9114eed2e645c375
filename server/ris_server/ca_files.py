"""Checks of an operator's CA: `server.tls.ca_file` and `ca_key_file`.

Every error names the config key at fault, so the hub can refuse to start
with a message the operator can act on.
"""

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


class CaConfigError(ValueError):
    """The configured CA files are unusable; the message names the key."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def check_ca_settings(
    tls_enabled: bool, client_auth: str, ca_file: str, ca_key_file: str
) -> None:
    """Check that the hub has a CA for agent certificates.

    Raises CaConfigError naming the `server.tls` key at fault: TLS turned
    off while client certificates are required, `ca_file` and `ca_key_file`
    not set together, a missing or unreadable file, a certificate that is not
    a CA, an expired CA, or a key that does not belong to the certificate.
    """
    if client_auth == "require" and not tls_enabled:
        raise CaConfigError(
            "server.tls.enabled = false, but server.tls.client_auth = 'require' "
            "needs the hub CA to verify agent certificates on the agent port; "
            "set server.tls.enabled to true"
        )
    if ca_file and not ca_key_file:
        raise CaConfigError(
            f"server.tls.ca_file = {ca_file!r} is set without "
            "server.tls.ca_key_file: the hub signs agent certificates at "
            "enrollment and renewal and needs the CA's private key; set "
            "server.tls.ca_key_file, or remove server.tls.ca_file to use the "
            "hub's own CA in DATA/pki"
        )
    if ca_key_file and not ca_file:
        raise CaConfigError(
            f"server.tls.ca_key_file = {ca_key_file!r} is set without "
            "server.tls.ca_file; set both or neither"
        )
    if ca_file:
        load_external_ca(Path(ca_file), Path(ca_key_file))


def load_external_ca(cert_path: Path, key_path: Path):
    """Load an operator's CA certificate and key; raise CaConfigError if unusable."""
    try:
        cert_pem = cert_path.read_bytes()
    except OSError as exc:
        raise CaConfigError(
            f"server.tls.ca_file = {str(cert_path)!r}: cannot read: {exc.strerror}"
        ) from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise CaConfigError(
            f"server.tls.ca_file = {str(cert_path)!r}: not a PEM certificate"
        ) from None
    try:
        constraints = cert.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CaConfigError(
            f"server.tls.ca_file = {str(cert_path)!r}: not a CA certificate "
            "(basic constraints CA:TRUE missing)"
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise CaConfigError(
            f"server.tls.ca_file = {str(cert_path)!r}: the key usage does not "
            "allow signing certificates (keyCertSign)"
        )
    if cert.not_valid_after_utc <= _now():
        raise CaConfigError(
            f"server.tls.ca_file = {str(cert_path)!r}: the CA certificate "
            f"expired at {cert.not_valid_after_utc.isoformat()}"
        )
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        raise CaConfigError(
            f"server.tls.ca_key_file = {str(key_path)!r}: cannot read: {exc.strerror}"
        ) from None
    except (ValueError, TypeError):
        raise CaConfigError(
            f"server.tls.ca_key_file = {str(key_path)!r}: not an unencrypted PEM "
            "private key"
        ) from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(
        der, spki
    ):
        raise CaConfigError(
            f"server.tls.ca_key_file = {str(key_path)!r} is not the key of "
            f"server.tls.ca_file = {str(cert_path)!r}"
        )
    return cert, key
