"""Certificate renewal: a new key and certificate before the current one expires.

When less than a fraction of the certificate's lifetime remains, the agent
generates a new key, sends a CSR that carries only the public key to
``AgentService.RenewCertificate`` on the agent port (authenticated by the
current certificate), installs the new pair and asks the connection to
reconnect with it.

The pair is installed so that a crash leaves a usable, matching key and
certificate: both are first written as ``agent.key.new`` and ``agent.crt.new``
(temp file, fsync, rename), then renamed over the current files, key first.
``recover_pending_renewal`` finishes or discards an interrupted install at start.
"""

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ris.v1 import agent_pb2, agent_pb2_grpc
from ris_agent.connection import CHANNEL_OPTIONS, load_channel_credentials
from ris_agent.files import fsync_directory, write_file_atomic
from ris_agent.state import DataDir, StateError, load_state, save_state

logger = logging.getLogger(__name__)

DEFAULT_RENEW_FRACTION = 1 / 3
RENEW_TIMEOUT_SECONDS = 30.0
# Bounds of the pause between two expiry checks, and between failed attempts.
MIN_CHECK_SECONDS = 1.0
MAX_CHECK_SECONDS = 600.0


class RenewalError(Exception):
    """A renewal failed; the current certificate stays in use."""


def _pending_paths(data_dir: DataDir):
    key = data_dir.key_path.with_name(data_dir.key_path.name + ".new")
    cert = data_dir.certificate_path.with_name(data_dir.certificate_path.name + ".new")
    return key, cert


def lifetime_left(cert: x509.Certificate, now: datetime) -> tuple[float, float]:
    """Return (seconds left, total lifetime in seconds) of a certificate."""
    total = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()
    left = (cert.not_valid_after_utc - now).total_seconds()
    return left, max(total, 1.0)


def renewal_due(cert: x509.Certificate, fraction: float, now: datetime) -> bool:
    """Return whether less than `fraction` of the lifetime remains."""
    left, total = lifetime_left(cert, now)
    return left < fraction * total


def check_interval(cert: x509.Certificate) -> float:
    """Return the pause between expiry checks: 1/50 of the lifetime, bounded."""
    _, total = lifetime_left(cert, datetime.now(UTC))
    return min(MAX_CHECK_SECONDS, max(MIN_CHECK_SECONDS, total / 50))


def build_renewal_csr(key: ec.EllipticCurvePrivateKey) -> str:
    """Return a PEM CSR with an empty subject and no extensions.

    The hub copies the identity from the current certificate, so the CSR
    carries the public key and nothing else.
    """
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    return (
        request.sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def _identity_names(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return sorted(ext.value.get_values_for_type(x509.UniformResourceIdentifier))


def install_credentials(data_dir: DataDir, key_pem: bytes, cert_pem: bytes) -> None:
    """Replace the key and certificate so that a crash never splits the pair.

    Raises OSError.
    """
    pending_key, pending_cert = _pending_paths(data_dir)
    write_file_atomic(pending_key, key_pem, 0o600)
    write_file_atomic(pending_cert, cert_pem, 0o644)
    _finish_install(data_dir)


def _finish_install(data_dir: DataDir) -> None:
    pending_key, pending_cert = _pending_paths(data_dir)
    if pending_key.exists():
        os.replace(pending_key, data_dir.key_path)
    os.replace(pending_cert, data_dir.certificate_path)
    fsync_directory(data_dir.root)


def recover_pending_renewal(data_dir: DataDir) -> None:
    """Finish or discard a renewal that a crash interrupted. Raises OSError.

    ``agent.crt.new`` is written after ``agent.key.new``, so its presence
    means the new pair is complete. A lone ``agent.key.new`` is a write that
    did not finish; the current pair is still intact and stays in use.
    """
    pending_key, pending_cert = _pending_paths(data_dir)
    if pending_cert.exists():
        logger.warning("finishing an interrupted certificate renewal")
        _finish_install(data_dir)
    elif pending_key.exists():
        logger.warning("discarding the key of an unfinished certificate renewal")
        pending_key.unlink()


async def renew_certificate(
    endpoint: str, data_dir: DataDir, timeout: float = RENEW_TIMEOUT_SECONDS
) -> x509.Certificate:
    """Renew the certificate over the agent port and install the new pair.

    Returns the new certificate. Raises RenewalError when the call fails or
    the hub's answer does not fit the new key or the agent's identity.
    """
    current = x509.load_pem_x509_certificate(data_dir.certificate_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    request = agent_pb2.RenewCertificateRequest(csr_pem=build_renewal_csr(key))
    credentials = load_channel_credentials(data_dir)
    async with grpc.aio.secure_channel(
        endpoint, credentials, options=CHANNEL_OPTIONS
    ) as channel:
        try:
            response = await agent_pb2_grpc.AgentServiceStub(channel).RenewCertificate(
                request, timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            raise RenewalError(
                f"RenewCertificate failed: {error.code().name}: {error.details()}"
            ) from None
    try:
        cert = x509.load_pem_x509_certificate(response.certificate_pem.encode())
    except ValueError as error:
        raise RenewalError(f"the hub sent an invalid certificate: {error}") from None
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(der, spki) != key.public_key().public_bytes(
        der, spki
    ):
        raise RenewalError("the renewed certificate does not match the new key")
    if _identity_names(cert) != _identity_names(current):
        raise RenewalError("the renewed certificate names another identity")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    await asyncio.to_thread(
        install_credentials, data_dir, key_pem, response.certificate_pem.encode()
    )
    await asyncio.to_thread(_record_expiry, data_dir, cert)
    return cert


def _record_expiry(data_dir: DataDir, cert: x509.Certificate) -> None:
    """Store the new expiry in state.json; a failure only loses that hint."""
    try:
        state = load_state(data_dir)
        save_state(
            data_dir,
            replace(state, certificate_expires_at=cert.not_valid_after_utc.isoformat()),
        )
    except (StateError, OSError) as error:
        logger.warning("could not update state.json with the new expiry: %s", error)


class CertificateRenewer:
    """Renews the agent's certificate in the background while the agent runs."""

    def __init__(
        self,
        endpoint: str,
        data_dir: DataDir,
        fraction: float,
        on_renewed: Callable[[str], None],
    ):
        """``on_renewed`` gets the new serial and should make the stream reconnect."""
        self._endpoint = endpoint
        self._data_dir = data_dir
        self._fraction = fraction
        self._on_renewed = on_renewed

    async def run(self) -> None:
        """Check the expiry and renew when due, until cancelled."""
        failures = 0
        while True:
            try:
                current = x509.load_pem_x509_certificate(
                    self._data_dir.certificate_path.read_bytes()
                )
            except (OSError, ValueError) as error:
                logger.error("cannot read the agent certificate: %s", error)
                await asyncio.sleep(MAX_CHECK_SECONDS)
                continue
            pause = check_interval(current)
            if renewal_due(current, self._fraction, datetime.now(UTC)):
                left, _ = lifetime_left(current, datetime.now(UTC))
                logger.info(
                    "renewing certificate %x: %.0f s of its lifetime left",
                    current.serial_number,
                    left,
                )
                try:
                    cert = await renew_certificate(self._endpoint, self._data_dir)
                except (RenewalError, OSError) as error:
                    failures += 1
                    logger.warning(
                        "certificate renewal failed (attempt %d): %s; the current "
                        "certificate stays in use",
                        failures,
                        error,
                    )
                    pause = min(MAX_CHECK_SECONDS, pause * 2 ** min(failures, 6))
                else:
                    failures = 0
                    serial = format(cert.serial_number, "x")
                    logger.info(
                        "installed renewed certificate %s, valid until %s",
                        serial,
                        cert.not_valid_after_utc.isoformat(),
                    )
                    self._on_renewed(serial)
                    continue
            await asyncio.sleep(pause)
